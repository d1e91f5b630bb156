"""Item pipelines: validate → dedup → archive.

Each has one job. A page the parser could not make an article of becomes a
recorded failure (URL and reason), never an empty row.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro
from sqlalchemy.exc import SQLAlchemyError
from twisted.internet.task import LoopingCall

from archive import Archive, ArchiveError, LockHeld
from archive.warcs import link_capture
from portal_crawler import failpoints
from portal_crawler.alarms import RunObservation, check_alarms, usual_first_page_links
from portal_crawler.items import (
    ArticleItem,
    DuplicateItem,
    FetchFailureItem,
    NotModifiedItem,
)
from portal_crawler.parsing.article import Article, missing_fields
from portal_crawler.seen import DiskSet

logger = logging.getLogger(__name__)


def _cause(exc: BaseException) -> str:
    """The database's own words ("database or disk is full"), not SQLAlchemy's wrapping."""
    original = getattr(exc, "orig", None)
    return str(original or exc).splitlines()[0]


def _observation(crawler: Crawler) -> RunObservation:
    return crawler.__dict__.setdefault("portal_observation", RunObservation())


class ValidatePipeline:
    """An article without title, body or date is turned into a failure."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidatePipeline:
        return cls(crawler)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        article = Article.from_dict(item.article)
        problems = missing_fields(article)
        _observation(self.crawler).observe(article, valid=not problems)
        if problems:
            reason = "extraction failed: " + ", ".join(problems)
            logger.warning("%s: %s", item.fetched_url, reason)
            return FetchFailureItem(
                item.portal_id, item.requested_url or item.fetched_url, reason, item.http_status
            )
        return item


class DedupPipeline:
    """One article reached twice in a run (two URLs, same canonical) is stored once.

    The second arrival becomes a DuplicateItem, so its URLs still leave the frontier.
    """

    def __init__(self) -> None:
        self.seen = DiskSet()  # flat in memory, however many articles the run stores

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, ArticleItem) and self._seen_before(item.article["url"], item):
            logger.info("already archived in this run: %s", item.article["url"])
            urls = {item.requested_url, item.fetched_url} - {None}
            return DuplicateItem(item.portal_id, sorted(urls))  # type: ignore[arg-type]
        return item

    def _seen_before(self, url: str, item: ArticleItem) -> bool:
        """Whether this run already had the article (distributed runs share this in Redis)."""
        if url in self.seen:
            return True
        self.seen.add(url)
        return False


class ArchivePipeline:
    """Owns the archive for a crawl: the run record, the portal lock, every write.

    The spider reads the same archive (through ``crawler.portal_archive``) to
    decide what is new; only this pipeline writes.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.archive: Archive | None = None
        self.run_id: int | None = None
        self.portal_id: str | None = None
        self.locked = False
        self.heartbeat: LoopingCall | None = None
        self.fatal: str | None = None
        self.counts = dict.fromkeys(
            ("new", "unchanged", "changed", "duplicates", "removed", "failed", "failed_transient"),
            0,
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    def open_spider(self, spider: Any = None) -> None:
        spider = spider or self.crawler.spider
        try:
            self._open(spider)
        except (SQLAlchemyError, ArchiveError, OSError) as exc:
            self.fatal = f"cannot use the archive: {_cause(exc)}"
            logger.error("%s: %s", spider.profile.id, self.fatal)
            self.crawler.portal_blocked = self.fatal  # type: ignore[attr-defined]
            self._publish("failed", self.fatal, self.counts)
            if self.archive is not None:
                with contextlib.suppress(SQLAlchemyError, OSError):
                    self.archive.close()
                self.archive = None

    def _open(self, spider: Any) -> None:
        failpoints.install()
        settings = self.crawler.settings
        db = getattr(spider, "db", None) or settings.get("PORTAL_ARCHIVE_DB")
        self.archive = archive = Archive.open(db)
        profile = spider.profile
        self.portal_id = profile.id
        archive.upsert_portal(
            profile.id,
            profile.name,
            profile.base_url,
            province=profile.province,
            cms=profile.family,
        )
        self.run_id = archive.start_run(
            profile.id,
            [s.name for s in spider.sections],
            {
                "mirror": spider.mirror_origin,
                "sections": [s.url for s in spider.sections],
                "full": spider.full,
                # A distributed worker adds its worker and job ids.
                **getattr(spider, "run_details", {}),
            },
        )
        if not self._take_lock(archive, profile.id):
            return
        self.locked = True
        self.crawler.portal_archive = archive  # type: ignore[attr-defined]
        self.crawler.portal_run_id = self.run_id  # type: ignore[attr-defined]

    def _take_lock(self, archive: Archive, portal_id: str) -> bool:
        """Take the portal's crawl lock (and keep it beating); False when refused.

        Distributed workers share a portal and override this (see
        portal_crawler.distributed.pipelines).
        """
        settings = self.crawler.settings
        try:
            archive.acquire_lock(
                portal_id,
                run_id=self.run_id,
                stale_after=settings.getfloat("PORTAL_LOCK_STALE_AFTER", 900.0),
            )
        except LockHeld as exc:
            message = f"refused: {exc}"
            logger.error(message)
            archive.finish_run(self.run_id, "failed", {}, message=message)
            self.crawler.portal_refused = message  # type: ignore[attr-defined]
            self.crawler.portal_blocked = message  # type: ignore[attr-defined]
            return False
        archive.interrupt_stale_runs(portal_id)
        self.heartbeat = LoopingCall(archive.heartbeat, portal_id)
        beating = self.heartbeat.start(settings.getfloat("PORTAL_LOCK_HEARTBEAT", 60.0), now=False)
        # Losing the lock (taken over after a stall) or the database: stop writing.
        beating.addErrback(lambda failure: self._stop(f"lost the crawl lock: {failure.value}"))
        return True

    def process_item(self, item: Any, spider: Any = None) -> Any:
        archive = self.archive
        if archive is None or not self.locked or self.fatal:
            return item
        try:
            self._write(archive, item)
        except (SQLAlchemyError, ArchiveError, OSError) as exc:
            self._stop(f"cannot write to the archive: {_cause(exc)}")
        return item

    def _stop(self, message: str) -> None:
        """The archive cannot take writes (disk full, read-only): stop, say why, once."""
        self.fatal = message
        logger.error("%s: %s; stopping the crawl", self.portal_id, message)
        deferred_from_coro(self.crawler.engine.close_spider_async(reason="archive_error"))

    def _write(self, archive: Archive, item: Any) -> None:
        if isinstance(item, DuplicateItem):
            self._count("duplicates")
            for url in item.urls:
                archive.frontier_done(item.portal_id, url)
        elif isinstance(item, NotModifiedItem):
            archive.touch_unchanged(item.url, run_id=self.run_id)
            self._count("unchanged")
        elif isinstance(item, FetchFailureItem):
            self._failure(archive, item)
        elif isinstance(item, ArticleItem):
            result = archive.store_article(
                item.portal_id,
                item.article,
                fetched_url=item.fetched_url,
                raw_body=item.raw_body,
                http_status=item.http_status,
                headers=item.headers,
                run_id=self.run_id,
                parser_version=item.parser_version,
                aliases=[item.requested_url] if item.requested_url else [],
            )
            self._count("duplicates" if result.status == "duplicate" else result.status)
            if result.capture_id is not None and item.extra.get("warc"):
                link_capture(archive, result.capture_id, item.extra["warc"])
            for url in {item.requested_url, item.fetched_url, item.article["url"]} - {None}:
                archive.frontier_done(item.portal_id, url)

    def _failure(self, archive: Archive, item: FetchFailureItem) -> None:
        if item.gone and archive.mark_removed(
            item.portal_id,
            item.url,
            reason=item.reason,
            http_status=item.http_status,
            run_id=self.run_id,
        ):
            self._count("removed")
        elif item.gone and archive.article_state(item.url) is not None:
            pass  # already marked removed by an earlier run
        else:
            self._count("failed")
            if item.transient:
                self._count("failed_transient")
            archive.record_failure(
                item.portal_id,
                item.url,
                item.reason,
                run_id=self.run_id,
                http_status=item.http_status,
            )
        if not item.transient:
            # A transient failure stays in the frontier: the next run tries again.
            archive.frontier_done(item.portal_id, item.url)

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1
        self.crawler.stats.inc_value(f"archive/{key}")

    def close_spider(self, spider: Any = None) -> None:
        archive = self.archive
        if archive is None:
            return
        if self.heartbeat is not None and self.heartbeat.running:
            self.heartbeat.stop()
        self.fatal = self.fatal or getattr(self.crawler, "portal_archive_error", None)
        if self.locked and self.run_id is not None and not self.fatal:
            try:
                status, summary, message = self._summarise(archive)
                archive.finish_run(self.run_id, status, summary, message=message)
                archive.release_lock(self.portal_id)
                self._publish(status, message, summary)
            except (SQLAlchemyError, ArchiveError, OSError) as exc:
                self.fatal = f"cannot write to the archive: {_cause(exc)}"
        if self.fatal:
            with contextlib.suppress(SQLAlchemyError, ArchiveError, OSError):
                archive.finish_run(self.run_id, "failed", dict(self.counts), message=self.fatal)
            with contextlib.suppress(SQLAlchemyError, ArchiveError, OSError):
                archive.release_lock(self.portal_id)
            self._publish("failed", self.fatal, self.counts)
        elif not self.locked:
            self._publish("refused", getattr(self.crawler, "portal_refused", None), self.counts)
        with contextlib.suppress(SQLAlchemyError, OSError):
            archive.close()
        self.archive = None

    def _publish(self, status: str, message: str | None, figures: dict[str, Any]) -> None:
        """The run's summary, for the command line's report and exit code."""
        self.crawler.portal_run_summary = {  # type: ignore[attr-defined]
            "run_id": self.run_id,
            "status": status,
            "message": message,
            **figures,
        }

    def _summarise(self, archive: Archive) -> tuple[str, dict[str, Any], str | None]:
        stats = self.crawler.stats
        # Scrapy records finish_reason only after the pipelines are closed; by then a
        # stop (SIGTERM, Ctrl-C: Crawler.stop) has already cleared `crawling`, while
        # a crawl that ran out of requests closes with `crawling` still set.
        reason = stats.get_value("finish_reason") or (
            "finished" if self.crawler.crawling else "shutdown"
        )
        status = (
            "finished"
            if reason == "finished"
            else ("interrupted" if reason == "shutdown" else "failed")
        )
        summary: dict[str, Any] = {
            **self.counts,
            "pages": int(stats.get_value("portal/listing_pages", 0))
            - int(stats.get_value("portal/listing_repeats", 0)),
            # Responses plus network errors: a mirrored request passes the
            # downloader middlewares twice, so the request counter overcounts.
            "requests": int(stats.get_value("downloader/response_count", 0))
            + int(stats.get_value("downloader/exception_count", 0)),
            "bytes": int(stats.get_value("downloader/response_bytes", 0)),
            "resumed": int(stats.get_value("portal/resumed", 0)),
            "rechecked": int(stats.get_value("portal/rechecked", 0)),
            "retries": int(stats.get_value("retry/count", 0)),
            "robots_crawl_delay": stats.get_value("robotstxt/crawl_delay"),
            "robots_forbidden": int(stats.get_value("robotstxt/forbidden", 0)),
            "warc_records": int(stats.get_value("warc/response", 0))
            + int(stats.get_value("warc/revisit", 0)),
            "warc_revisits": int(stats.get_value("warc/revisit", 0)),
            "media_requests": int(stats.get_value("portal/media_requests", 0)),
            "media_stored": int(stats.get_value("portal/media_stored", 0)),
        }
        if status == "interrupted":
            # A cut-short run says nothing about the portal's layout: no alarms.
            return (
                status,
                summary,
                "stopped before the end (SIGTERM or Ctrl-C); the next "
                "crawl resumes from the frontier",
            )
        observation = _observation(self.crawler)
        observation.new = self.counts["new"]
        observation.unchanged = self.counts["unchanged"]
        observation.pagination_stopped_at = stats.get_value("portal/pagination_stopped")
        observation.fetch_failures = self.counts["failed"]
        observation.first_page_links = summary["first_page_links"] = {
            key.split("/", 2)[2]: links
            for key, links in stats.get_stats().items()
            if key.startswith("portal/first_page_links/")
        }
        observation.usual_first_page_links = usual_first_page_links(
            [run for run in archive.runs(self.portal_id, limit=20) if run["id"] != self.run_id]
        )
        observation.failed_listings = [
            (key.split("/", 2)[2], why)
            for key, why in stats.get_stats().items()
            if key.startswith("portal/listing_failed/")
        ]
        observation.empty_listings = [
            (key.split("/", 2)[2], url)
            for key, url in stats.get_stats().items()
            if key.startswith("portal/empty_listing/")
        ]
        alarms = check_alarms(
            self.portal_id or "?",
            observation,
            archive.field_presence(self.portal_id, exclude_run=self.run_id),
            archive.discovery_gap(self.portal_id),
        )
        for alarm in alarms:
            logger.error("ALARM %s", alarm)
        if alarms and status == "finished":
            status = "degraded"
        return status, summary, "; ".join(alarms) or None
