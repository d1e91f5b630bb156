"""WarcCaptureMiddleware: every HTTP exchange of a crawl into the portal's WARC files.

It sits closest to the downloader (after MirrorMiddleware), so it sees each
request as it leaves — robots.txt, listing pages and their POST postbacks,
articles, media, retries and redirects each once — and each response before
Scrapy's HttpCompressionMiddleware decodes it: the body is what the server
sent, gzip and all. What it cannot see: the exact header bytes (Scrapy parses
them: names come title-cased, their order is Scrapy's) and the chunked
framing of a chunked body. The WARC-Target-URI is the portal's live URL, also
when the crawl fetched from a mirror (named in each file's warcinfo record).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.exc import SQLAlchemyError

from archive.errors import ArchiveError
from archive.paths import data_dir_for
from archive.warcs import (
    DEFAULT_MAX_SIZE,
    ArchivePayloadIndex,
    Exchange,
    PayloadIndex,
    WarcWriter,
)

logger = logging.getLogger(__name__)

# Where a response's record is, for the spider's items: response.meta[META_KEY].
META_KEY = "portal_warc"


def data_dir(crawler: Crawler) -> Path:
    """The crawl's data directory: the archive file's folder."""
    spider = crawler.spider
    db = getattr(spider, "db", None) or crawler.settings.get("PORTAL_ARCHIVE_DB")
    return data_dir_for(db)


def _pairs(headers: Any) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
    ]


class WarcCaptureMiddleware:
    """Write each request and its response as WARC/1.1 records (see archive.warcs)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.writer: WarcWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcCaptureMiddleware:
        if not crawler.settings.getbool("PORTAL_WARC_ENABLED", True):
            raise NotConfigured("PORTAL_WARC_ENABLED is off")
        middleware = cls(crawler)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def _writer(self, spider: Spider) -> WarcWriter:
        if self.writer is None:
            settings = self.crawler.settings
            portal_id = spider.profile.id  # type: ignore[attr-defined]
            home = data_dir(self.crawler)
            root = Path(settings.get("PORTAL_WARC_DIR") or home / "warc").expanduser()
            archive = getattr(self.crawler, "portal_archive", None)
            run_id = getattr(self.crawler, "portal_run_id", None)
            index = (
                ArchivePayloadIndex(archive, portal_id, run_id)
                if archive is not None
                else PayloadIndex()
            )
            info = {
                "description": f"crawl run {run_id} of portal {portal_id}"
                if run_id
                else f"crawl of portal {portal_id}",
                "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
                "http-header-user-agent": settings.get("USER_AGENT") or "",
                # Requests went to this origin; records name the portal's live URLs.
                "fetched-from": getattr(spider, "mirror_origin", None) or "",
            }
            self.writer = WarcWriter(
                root / portal_id,
                portal_id,
                data_dir=home,
                max_size=settings.getint("PORTAL_WARC_MAX_SIZE", DEFAULT_MAX_SIZE),
                info={k: v for k, v in info.items() if v},
                index=index,
            )
        return self.writer

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        spider = spider or self.crawler.spider
        live = getattr(spider, "live_url", None)
        target = live(response.url) if live else response.url
        exchange = Exchange(
            target_uri=target,
            method=request.method,
            request_headers=_pairs(request.headers),
            request_body=request.body or b"",
            status=response.status,
            response_headers=_pairs(response.headers),
            body=response.body,
            protocol=response.protocol or "HTTP/1.1",
            ip_address=str(response.ip_address) if response.ip_address else None,
        )
        try:
            location = self._writer(spider).write(exchange)
        except (OSError, SQLAlchemyError, ArchiveError) as exc:
            self._stop(exc)
            return response
        request.meta[META_KEY] = location.as_dict()
        self.crawler.stats.inc_value(f"warc/{location.record_type}")
        return response

    def _stop(self, exc: BaseException) -> None:
        """WARC files cannot be written (a full disk): the crawl stops and says why, once."""
        if getattr(self.crawler, "portal_archive_error", None):
            return
        original = getattr(exc, "orig", None)
        message = f"cannot write the WARC capture: {str(original or exc).splitlines()[0]}"
        logger.error("%s; stopping the crawl", message)
        self.crawler.portal_archive_error = message  # type: ignore[attr-defined]
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="archive_error"))

    def spider_closed(self, spider: Spider) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except OSError as exc:  # the disk filled up: already reported by _stop
                logger.error("cannot close the WARC file: %s", exc)
            for path in self.writer.files:
                logger.info("WARC file %s", path)
