"""A worker's duties towards a job, besides crawling: leases, liveness, the end.

Every PORTAL_WORKER_HEARTBEAT seconds: renew the leases and host tokens this
crawler holds, keep the job from expiring, and put the expired leases of dead
workers back in the queue. When the crawler runs out of requests it does not
close while the job still has requests queued or leased elsewhere (another
worker's request may yet yield more); it closes when the job is over, and the
worker that ends the job marks the runs of workers that died as interrupted.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from twisted.internet.task import LoopingCall

from portal_crawler.distributed.connection import RedisError, connect, crawl_stopping, lost_redis
from portal_crawler.distributed.job import JobStore
from portal_crawler.distributed.keys import worker_key

logger = logging.getLogger(__name__)


class WorkerExtension:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.redis = connect(settings["PORTAL_REDIS_URL"])
        self.namespace = settings["PORTAL_REDIS_NAMESPACE"]
        self.worker = settings["PORTAL_WORKER_ID"]
        self.store = JobStore(self.redis, self.namespace, settings.getfloat("PORTAL_JOB_TTL"))
        self.interval = settings.getfloat("PORTAL_WORKER_HEARTBEAT")
        self.loop: LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WorkerExtension:
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    @property
    def job(self) -> Any:
        return self.crawler.spider.job  # type: ignore[union-attr]

    @property
    def leases(self) -> Any:
        return getattr(self.crawler, "portal_leases", None)

    def spider_opened(self, spider: Any) -> None:
        self.loop = LoopingCall(self.tick)
        self.loop.start(self.interval, now=False)

    def tick(self) -> None:
        try:
            self.store.refresh(self.job)
            if self.leases is not None:
                self.leases.renew()
            gate = getattr(self.crawler, "portal_gate", None)
            if gate is not None:
                gate.renew()
            self._reclaim()
        except RedisError as exc:
            lost_redis(self.crawler, exc)
            return
        # Other workers may have queued requests since we last looked.
        self._wake()

    def _reclaim(self) -> None:
        if self.leases is None:
            return
        for owner, count in self.leases.queue.reclaim().items():
            logger.warning(
                "%s: %d request(s) of worker %s, whose lease expired, are queued again",
                self.job.portal,
                count,
                owner,
            )

    def _wake(self) -> None:
        # Ask the engine to look at the queue now rather than at its next 5 s heartbeat.
        slot = getattr(self.crawler.engine, "_slot", None)
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()

    def spider_idle(self, spider: Any) -> None:
        if crawl_stopping(self.crawler) or self.leases is None:
            return  # close; our leases go back to the queue
        try:
            self.leases.ack_orphans()
            self._reclaim()
            state = self.store.finish_if_done(self.job)
        except RedisError as exc:
            lost_redis(self.crawler, exc)
            return
        if state == 0:
            raise DontCloseSpider
        self.crawler.portal_job_done = True  # type: ignore[attr-defined]
        if state == 1:
            logger.info("%s: job %s is done", self.job.portal, self.job.id)
            self._interrupt_dead_runs()

    def _interrupt_dead_runs(self) -> None:
        """Runs of this job by workers that died are over: say so."""
        archive = getattr(self.crawler, "portal_archive", None)
        if archive is None:
            return
        for run in archive.runs(self.job.portal, limit=200):
            args = run.get("args") or {}
            worker = args.get("worker")
            if run["status"] != "running" or args.get("job") != self.job.id:
                continue
            if worker == self.worker or self.redis.exists(worker_key(self.namespace, worker)):
                continue
            archive.finish_run(
                run["id"],
                "interrupted",
                {},
                message=f"worker {worker} stopped before job {self.job.id} ended; "
                "its unfinished requests were done by other workers",
            )

    def spider_closed(self, spider: Any, reason: str) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.leases is None:
            return
        try:
            released = self.leases.release_all()
        except RedisError as exc:
            logger.warning("could not give back our requests (%s); their leases will expire", exc)
            return
        if released:
            logger.info("gave %d unfinished request(s) back to the queue", released)
