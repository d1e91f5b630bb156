"""PortalSpider as a distributed worker runs it: same callbacks, state shared in Redis.

What the spider would keep in memory to walk a listing (listing pages and
articles already requested, listing pages seen before, pages walked per
section) is claimed in the job's Redis hash instead, by the request whose
callback makes the claim. The first requests come from `enqueue`, which runs
this spider's own start logic against the archive (see `plan`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from twisted.python.failure import Failure

from portal_crawler.distributed.connection import RedisError, connect, crawl_stopping, lost_redis
from portal_crawler.distributed.job import Claims, Job
from portal_crawler.distributed.keys import PLANNER, JobKeys
from portal_crawler.distributed.leases import PARENT_META
from portal_crawler.distributed.queue import LEASE_META
from portal_crawler.items import ArticleItem
from portal_crawler.spiders.portal import PortalSpider


class DistributedPortalSpider(PortalSpider):
    """One portal's crawl job, as one of many workers."""

    name = "portal-worker"

    def __init__(self, portal: str, job: str, namespace: str, **kwargs: Any):
        self.job = Job.from_json(job)
        super().__init__(
            portal=portal,
            section=self.job.section,
            all_sections=self.job.all_sections,
            mirror=self.job.mirror,
            full=self.job.full,
            **kwargs,
        )
        self.job_keys = JobKeys(namespace, portal, self.job.id)
        self.walked_sections = set(self.job.walked)
        self.claims: Claims | None = None
        # The lease of the request whose callback is running (set around each step).
        self._lease: str = PLANNER

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> DistributedPortalSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        assert isinstance(spider, DistributedPortalSpider)
        settings = crawler.settings
        spider.full = spider.job.full  # the job decides, as planned
        spider.claims = Claims(
            connect(settings["PORTAL_REDIS_URL"]),
            spider.job_keys,
            settings.getfloat("PORTAL_JOB_TTL"),
        )
        return spider

    @property
    def run_details(self) -> dict[str, Any]:
        """Recorded with the worker's run: which worker, which job."""
        return {"worker": self.settings.get("PORTAL_WORKER_ID"), "job": self.job.id}

    async def start(self) -> AsyncIterator[Request]:
        # A worker takes its requests from the job's queue; `enqueue` made the first ones.
        return
        yield  # an async generator that yields nothing

    # -- callbacks: the single-process ones, with their lease tracked ---------------------
    def parse_listing(self, response: Any) -> Iterator[Any]:
        return self._leased(response.meta, super().parse_listing(response))

    def parse_article_page(self, response: Any) -> Iterator[Any]:
        return self._leased(response.meta, super().parse_article_page(response))

    def on_error(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        return self._leased(request.meta, super().on_error(failure))

    def _leased(self, meta: dict[str, Any], output: Iterable[Any]) -> Iterator[Any]:
        """Run a callback step by step under its request's lease; report when it is done.

        The callbacks are plain generators, so the lease set before each step is
        the one their claims are made in, even when callbacks interleave.
        """
        lease = meta.get(LEASE_META) or PLANNER
        tracker = getattr(self.crawler, "portal_leases", None)
        steps = iter(output)
        try:
            while True:
                self._lease = lease
                try:
                    element = next(steps)
                except StopIteration:
                    return
                except RedisError as exc:
                    lost_redis(self.crawler, exc)  # the request is done again later
                    return
                finally:
                    self._lease = PLANNER
                if crawl_stopping(self.crawler):
                    return  # nothing of it is acknowledged: no need to record anything
                if isinstance(element, Request):
                    element.meta[PARENT_META] = lease
                elif isinstance(element, ArticleItem):
                    element.extra[LEASE_META] = lease
                if tracker is not None:
                    tracker.output_started(lease)
                yield element
        finally:
            if tracker is not None:
                tracker.output_done(lease)

    # -- shared state: the job's claims instead of the spider's sets -----------------------
    def _claim(self, kind: str, key: str) -> bool:
        assert self.claims is not None
        return self.claims.claim(kind, key, self._lease)

    def _claim_listing_page(self, key: tuple[str, ...]) -> bool:
        return self._claim("page", "\0".join(key))

    def _claim_article(self, url: str) -> bool:
        return self._claim("article", url)

    def _claim_listing_signature(self, section: str, signature: bytes) -> bool:
        return self._claim("signature", f"{section}\0{signature.hex()}")

    def _count_listing_page(self, section: str) -> int:
        assert self.claims is not None
        return self.claims.count_page(section, self._lease)

    def _adopt_declared_origin(self, declared: str | None, fetched: str) -> bool:
        # Jobs name portals by profile; learning an origin is for crawls without one.
        return False
