"""Scrapy settings shared by `portal-archive crawl` and `scrapy crawl portal`.

Politeness is on by default: robots.txt (with its Crawl-delay), AutoThrottle,
a per-portal delay from the profile and few parallel requests per portal.
Tests switch the delays off through settings, never through code branches.
"""

BOT_NAME = "portal-archive"
SPIDER_MODULES = ["portal_crawler.spiders"]
NEWSPIDER_MODULE = "portal_crawler.spiders"

USER_AGENT = "portal-archive/0.1 (+https://github.com/portal-archive; archiving public news)"

ROBOTSTXT_OBEY = True
# Honour robots.txt Crawl-delay (our RobotsTxtMiddleware subclass applies it).
PORTAL_OBEY_CRAWL_DELAY = True

CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5  # ±50 %, as browsers' irregular pace
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

DOWNLOAD_TIMEOUT = 30
REDIRECT_MAX_TIMES = 10
# A listing walk stops here and the run ends degraded (a pager trap, most likely).
PORTAL_MAX_LISTING_PAGES = 1000
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Exponential backoff between retries: base * 2**(attempt-1), capped.
PORTAL_RETRY_BACKOFF_BASE = 2.0
PORTAL_RETRY_BACKOFF_MAX = 60.0

COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False
# No listening sockets of our own during a crawl.
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    # Our offsite rules (exact host:port of the portal and its mirror) replace Scrapy's.
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "portal_crawler.middlewares.PortalOffsiteMiddleware": 50,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "portal_crawler.middlewares.CrawlDelayRobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "portal_crawler.middlewares.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "portal_crawler.middlewares.SuccessMetaRefreshMiddleware": 580,
    # Closest to the downloader: swaps a live portal origin for the mirror's.
    "portal_crawler.middlewares.MirrorMiddleware": 950,
    # After the mirror, before decompression: each exchange as the server sent it.
    "portal_crawler.warc.WarcCaptureMiddleware": 960,
}

EXTENSIONS = {
    "scrapy.extensions.throttle.AutoThrottle": None,
    "portal_crawler.middlewares.FloorAutoThrottle": 0,
    "portal_crawler.progress.ProgressExtension": 500,
}
# Off a terminal, a progress line every this many seconds (0: none).
PORTAL_PROGRESS_INTERVAL = 60.0

# Scrapy's duplicate filter with its fingerprints on disk: flat memory at any size.
DUPEFILTER_CLASS = "portal_crawler.seen.DiskDupeFilter"

ITEM_PIPELINES = {
    "portal_crawler.pipelines.ValidatePipeline": 100,
    "portal_crawler.pipelines.DedupPipeline": 200,
    "portal_crawler.pipelines.ArchivePipeline": 300,
    "portal_crawler.media.MediaPipeline": 400,
}

# Where the archive lives; None means archive.paths.default_db_path().
PORTAL_ARCHIVE_DB = None

# Incremental crawling (see the spider's docstring). PORTAL_INCREMENTAL=False
# (`crawl --full`) walks every listing page and fetches every article.
PORTAL_INCREMENTAL = True
# Re-check the N most recent archived articles, and all published in the last D days.
PORTAL_RECHECK_LAST = 20
PORTAL_RECHECK_DAYS = 7
# A crawl lock whose holder stopped heart-beating this long ago is taken over.
PORTAL_LOCK_STALE_AFTER = 900.0
PORTAL_LOCK_HEARTBEAT = 60.0

# Archival fidelity. Every HTTP exchange is written to WARC/1.1 files under
# PORTAL_WARC_DIR (default: warc/ next to the archive file), one folder per
# portal, a new file once one reaches PORTAL_WARC_MAX_SIZE bytes.
PORTAL_WARC_ENABLED = True
PORTAL_WARC_DIR = None
PORTAL_WARC_MAX_SIZE = 1_000_000_000
# Images and attachments of archived articles, stored under media/ next to the
# archive file: "all" (images and attachments), "images" or "off"; files larger
# than PORTAL_MEDIA_MAX_SIZE bytes are not downloaded.
PORTAL_MEDIA = "all"
PORTAL_MEDIA_MAX_SIZE = 32 * 1024 * 1024
