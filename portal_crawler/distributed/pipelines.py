"""The item pipelines of a worker: the single-process ones, sharing with other workers.

- WorkerArchivePipeline: no exclusive portal lock (the job coordinates the
  workers; each records its own run);
- SharedDedupPipeline: an article reached twice in a job is stored once,
  whichever workers reach it;
- SharedMediaPipeline: a file is fetched by one worker, not by each.

Claims are made in the lease of the request the item came from, so a request
done again after its worker died still stores its article and fetches its files.
"""

from __future__ import annotations

from typing import Any

from scrapy.crawler import Crawler

from archive import Archive
from portal_crawler.distributed.connection import RedisError, lost_redis
from portal_crawler.distributed.keys import PLANNER
from portal_crawler.distributed.queue import LEASE_META
from portal_crawler.items import ArticleItem
from portal_crawler.media import MediaPipeline
from portal_crawler.pipelines import ArchivePipeline, DedupPipeline


def _claim(crawler: Crawler, kind: str, url: str, item: ArticleItem) -> bool | None:
    """Whether this item's request is the one to store / fetch URL; None without Redis."""
    claims = crawler.spider.claims  # type: ignore[union-attr]
    try:
        return bool(claims.claim(kind, url, item.extra.get(LEASE_META) or PLANNER))
    except RedisError as exc:
        lost_redis(crawler, exc)  # the request is done again later
        return None


class WorkerArchivePipeline(ArchivePipeline):
    def _take_lock(self, archive: Archive, portal_id: str) -> bool:
        # Many workers crawl the portal at once; the Redis job keeps them apart.
        return True

    def _summarise(self, archive: Archive) -> tuple[str, dict[str, Any], str | None]:
        status, summary, message = super()._summarise(archive)
        done = getattr(self.crawler, "portal_job_done", False)
        if status in ("finished", "interrupted") and not done:
            # Stopped (SIGTERM, Ctrl-C) before the job's end: the run did not walk it all.
            status = "interrupted"
            job = self.crawler.spider.job.id  # type: ignore[union-attr]
            message = getattr(self.crawler, "portal_redis_error", None) or (
                f"stopped before job {job} was done; other workers can finish it"
            )
        return status, summary, message

    def _stop(self, message: str) -> None:
        # Said before the spider closes, so that no lease is acknowledged from now on.
        self.crawler.portal_archive_error = message  # type: ignore[attr-defined]
        super()._stop(message)


class SharedDedupPipeline(DedupPipeline):
    def __init__(self, crawler: Crawler):
        super().__init__()
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedDedupPipeline:
        return cls(crawler)

    def _seen_before(self, url: str, item: ArticleItem) -> bool:
        # Without Redis, storing it is safe: the archive knows an article by its URL.
        return _claim(self.crawler, "stored", url, item) is False


class SharedMediaPipeline(MediaPipeline):
    def _claim(self, url: str, item: Any) -> bool:
        return bool(_claim(self.crawler, "media", url, item))
