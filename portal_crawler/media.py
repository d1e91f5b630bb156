"""MediaPipeline: download the images and attachments of archived articles.

Runs after ArchivePipeline, so the article's image and attachment rows exist
to be linked. Downloads go through the downloader like every other request:
the portal's hosts only (offsite rules), robots.txt, the portal's delay and
concurrency, the mirror, retries, and the WARC capture. A URL already stored
(by this run or an earlier one) is not fetched again. Files are stored by
archive.media, content-addressed, so a photo used twice is stored once.

PORTAL_MEDIA: "all" (images and attachments, the default), "images" or "off";
PORTAL_MEDIA_MAX_SIZE: larger files are not downloaded (recorded as such).
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from sqlalchemy.exc import SQLAlchemyError

from archive.media import link_article, needs_fetch, record_media_failure, store_media
from portal_crawler.items import ArticleItem
from portal_crawler.warc import data_dir

logger = logging.getLogger(__name__)

MODES = ("all", "images", "off")
DEFAULT_MAX_SIZE = 32 * 1024 * 1024


def media_urls(article: dict[str, Any], mode: str) -> list[str]:
    """The URLs to store for an article, images first, each once."""
    urls = [image["src"] for image in article.get("images") or []]
    if mode == "all":
        urls += [attachment["url"] for attachment in article.get("attachments") or []]
    return list(dict.fromkeys(url for url in urls if url))


class MediaPipeline:
    """Store the files of each archived article (see the module docstring)."""

    def __init__(self, crawler: Crawler, mode: str, max_size: int):
        self.crawler = crawler
        self.mode = mode
        self.max_size = max_size
        # URLs being fetched by another item of this run: fetched once.
        self.in_flight: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MediaPipeline:
        settings = crawler.settings
        mode = str(settings.get("PORTAL_MEDIA", "all")).strip().lower()
        if mode not in MODES:
            raise ValueError(f"PORTAL_MEDIA must be one of {', '.join(MODES)}, not {mode!r}")
        if mode == "off":
            raise NotConfigured("PORTAL_MEDIA is off")
        return cls(crawler, mode, settings.getint("PORTAL_MEDIA_MAX_SIZE", DEFAULT_MAX_SIZE))

    async def process_item(self, item: Any, spider: Any = None) -> Any:
        archive = getattr(self.crawler, "portal_archive", None)
        if not isinstance(item, ArticleItem) or archive is None:
            return item
        try:
            for url in media_urls(item.article, self.mode):
                if url in self.in_flight or not needs_fetch(archive, url):
                    continue
                if not self._claim(url, item):
                    continue  # another worker of a distributed crawl fetches it
                self.in_flight.add(url)
                if await self._fetch(archive, item.portal_id, url):
                    # Stored: the archive answers for it now, so memory stays flat.
                    self.in_flight.discard(url)
            state = archive.article_state(item.article["url"])
            if state is not None:
                link_article(archive, state.article_id)
        except (SQLAlchemyError, OSError) as exc:
            # The article is archived; its files can come with a later run.
            logger.error("Media of %s not stored: %s", item.article["url"], exc)
        return item

    def _claim(self, url: str, item: ArticleItem) -> bool:
        """Whether this item may fetch the file (distributed workers decide in Redis)."""
        return True

    async def _fetch(self, archive: Any, portal_id: str, url: str) -> bool:
        """Download and store one file; whether it was stored."""
        stats = self.crawler.stats
        stats.inc_value("portal/media_requests")
        request = Request(url, meta={"download_maxsize": self.max_size}, dont_filter=True)
        try:
            response = await self._download(request)
        except IgnoreRequest as exc:
            # Offsite, or disallowed by robots.txt: not ours to fetch.
            self._failed(archive, portal_id, url, f"not fetched: {exc or 'ignored'}")
            return False
        except Exception as exc:  # network errors, a download cancelled for its size
            message = str(exc) or type(exc).__name__
            if "max size" in message:
                message = f"larger than {self.max_size} bytes"
            self._failed(archive, portal_id, url, message)
            return False
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1") or None
        if response.status != 200:
            self._failed(
                archive,
                portal_id,
                url,
                f"HTTP {response.status}",
                http_status=response.status,
                content_type=content_type,
            )
            return False
        store_media(
            archive,
            data_dir(self.crawler),
            portal_id,
            url,
            response.body,
            http_status=response.status,
            content_type=content_type,
        )
        stats.inc_value("portal/media_stored")
        return True

    async def _download(self, request: Request) -> Response:
        engine = self.crawler.engine
        download_async = getattr(engine, "download_async", None)
        if download_async is not None:  # Scrapy 2.14+
            return await download_async(request)
        return await maybe_deferred_to_future(engine.download(request))

    def _failed(self, archive: Any, portal_id: str, url: str, error: str, **kwargs: Any) -> None:
        logger.info("Media %s not stored: %s", url, error)
        self.crawler.stats.inc_value("portal/media_failed")
        record_media_failure(archive, portal_id, url, error, **kwargs)
