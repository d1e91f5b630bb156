"""`portal-archive worker`: crawl the jobs queued in Redis, alongside any other workers.

One Scrapy crawler per job (portal) in one process, each with the distributed
spider, scheduler, pipelines and politeness. Without --forever the worker
stops when the jobs it found are done; with it, it keeps looking for new jobs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings

from portal_crawler.distributed.connection import RedisError, connect
from portal_crawler.distributed.job import DEFAULT_JOB_TTL, Job, JobStore
from portal_crawler.distributed.keys import DEFAULT_NAMESPACE, worker_key
from portal_crawler.distributed.spider import DistributedPortalSpider
from portal_crawler.profiles import ProfileError, get_profile

logger = logging.getLogger(__name__)

PACKAGE = "portal_crawler.distributed"
# Worker defaults; any can be changed with -s NAME=VALUE.
DEFAULTS = {
    # A worker that stops renewing its leases for this long is taken for dead.
    "PORTAL_LEASE_SECONDS": 120.0,
    "PORTAL_WORKER_HEARTBEAT": 10.0,
    "PORTAL_JOB_TTL": DEFAULT_JOB_TTL,
    "PORTAL_REDIS_NAMESPACE": DEFAULT_NAMESPACE,
    # None: the portal profile's download_delay and concurrency.
    "PORTAL_HOST_DELAY": None,
    "PORTAL_HOST_CONCURRENCY": None,
}
SHARED_LIMITS = {
    "DOWNLOAD_DELAY": "PORTAL_HOST_DELAY",
    "CONCURRENT_REQUESTS_PER_DOMAIN": "PORTAL_HOST_CONCURRENCY",
}


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def base_settings(
    redis_url: str, namespace: str, overrides: Sequence[tuple[str, str]] = ()
) -> Settings:
    """The project's settings plus the worker defaults and the user's overrides."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "portal_crawler.settings")
    settings = get_project_settings()
    for name, value in DEFAULTS.items():
        settings.set(name, value)
    settings.set("PORTAL_REDIS_URL", redis_url)
    settings.set("PORTAL_REDIS_NAMESPACE", namespace)
    for name, value in overrides:
        # A delay or concurrency given by the user is a shared limit per host
        # (politeness across workers), not one worker's own.
        settings.set(SHARED_LIMITS.get(name, name), value)
    return settings


def worker_settings(settings: Settings, worker_id: str, db: str) -> Settings:
    """Wire the distributed parts in (a copy of `settings`)."""
    settings = settings.copy()
    settings.set("PORTAL_WORKER_ID", worker_id)
    settings.set("PORTAL_ARCHIVE_DB", db)
    # The shared limiter spaces requests; a worker's own Scrapy slots must not add to it.
    settings.set("DOWNLOAD_DELAY", 0)
    # AutoThrottle adapts one worker's slots only: the shared delay applies instead.
    settings.set("AUTOTHROTTLE_ENABLED", False)
    settings.set("SCHEDULER", f"{PACKAGE}.queue.LeasingScheduler")
    settings.set("SCHEDULER_SERIALIZER", f"{PACKAGE}.serializer")
    settings.set("REDIS_URL", settings["PORTAL_REDIS_URL"])
    handler = f"{PACKAGE}.politeness.SharedPolitenessHandler"
    settings.set("DOWNLOAD_HANDLERS", {"http": handler, "https": handler})
    middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
    middlewares["portal_crawler.middlewares.CrawlDelayRobotsTxtMiddleware"] = None
    middlewares[f"{PACKAGE}.robots.SharedRobotsTxtMiddleware"] = 100
    settings.set("DOWNLOADER_MIDDLEWARES", middlewares)
    pipelines = settings.getdict("ITEM_PIPELINES")
    for single, shared in (
        ("portal_crawler.pipelines.DedupPipeline", f"{PACKAGE}.pipelines.SharedDedupPipeline"),
        ("portal_crawler.pipelines.ArchivePipeline", f"{PACKAGE}.pipelines.WorkerArchivePipeline"),
        ("portal_crawler.media.MediaPipeline", f"{PACKAGE}.pipelines.SharedMediaPipeline"),
    ):
        pipelines[shared] = pipelines.pop(single)
    settings.set("ITEM_PIPELINES", pipelines)
    extensions = settings.getdict("EXTENSIONS")
    extensions[f"{PACKAGE}.extension.WorkerExtension"] = 100
    settings.set("EXTENSIONS", extensions)
    return settings


def _job_settings(settings: Settings, job: Job) -> Settings:
    """One crawler's settings: it takes no more requests than its host may have in flight.

    With a delay the host takes one request at a time (see politeness), so a worker
    leases one request at a time and leaves the rest to other workers.
    """
    profile = get_profile(job.portal)
    given_delay = settings.get("PORTAL_HOST_DELAY")
    delay = float(given_delay) if given_delay not in (None, "") else profile.download_delay
    given = settings.get("PORTAL_HOST_CONCURRENCY")
    concurrency = int(given) if given not in (None, "") else profile.concurrency
    in_flight = 1 if delay > 0 else max(concurrency, 1)
    settings = settings.copy()
    # At spider priority: CrawlerProcess.crawl() merges its own settings into the crawler's.
    settings.set("CONCURRENT_REQUESTS", in_flight, priority="spider")
    settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", in_flight, priority="spider")
    return settings


class Worker:
    """A process crawling every ready job; reports each job's run as it ends."""

    def __init__(
        self,
        settings: Settings,
        *,
        forever: bool = False,
        report: Callable[[dict[str, Any]], None] = lambda summary: None,
    ):
        self.settings = settings
        self.forever = forever
        self.report = report
        self.worker_id = settings["PORTAL_WORKER_ID"]
        self.namespace = settings["PORTAL_REDIS_NAMESPACE"]
        self.redis = connect(settings["PORTAL_REDIS_URL"])
        self.store = JobStore(self.redis, self.namespace, settings.getfloat("PORTAL_JOB_TTL"))
        self.running: dict[str, str] = {}  # portal -> job id
        self.summaries: list[dict[str, Any]] = []
        self.process: CrawlerProcess | None = None

    def beat(self) -> None:
        """Say we are alive; with --forever, or while busy, take on new jobs."""
        try:
            lease_ms = int(self.settings.getfloat("PORTAL_LEASE_SECONDS") * 1000)
            self.redis.set(worker_key(self.namespace, self.worker_id), "1", px=lease_ms)
            if self.forever or self.running:
                self.discover()
        except RedisError as exc:  # the crawlers stop on their own; keep trying
            logger.warning("worker heartbeat failed: %s", exc)

    def discover(self) -> int:
        started = 0
        for job in self.store.ready_jobs():
            if job.portal not in self.running:
                started += self.start_job(job)
        return started

    def start_job(self, job: Job) -> bool:
        assert self.process is not None
        try:
            settings = _job_settings(self.settings, job)
        except ProfileError as exc:
            logger.error("cannot crawl job %s: %s", job.id, exc)
            return False
        crawler = Crawler(DistributedPortalSpider, settings)
        self.running[job.portal] = job.id
        done = self.process.crawl(
            crawler, portal=job.portal, job=job.to_json(), namespace=self.namespace
        )
        done.addBoth(self._finished, crawler, job)
        return True

    def _finished(self, result: Any, crawler: Crawler, job: Job) -> None:
        self.running.pop(job.portal, None)
        summary = getattr(crawler, "portal_run_summary", None) or {
            "status": "failed",
            "message": f"the crawl did not start: {getattr(result, 'value', result)}",
        }
        summary = {"portal": job.portal, "job": job.id, "worker": self.worker_id, **summary}
        self.summaries.append(summary)
        self.report(summary)

    def run(self) -> list[dict[str, Any]]:
        from scrapy.utils.reactor import install_reactor

        # Our crawlers have settings of their own, so we install the reactor, not the first.
        install_reactor(self.settings["TWISTED_REACTOR"], self.settings["ASYNCIO_EVENT_LOOP"])
        from twisted.internet import reactor
        from twisted.internet.task import LoopingCall

        self.process = CrawlerProcess(self.settings)
        self.beat()
        if not self.discover() and not self.forever:
            return []
        heartbeat = LoopingCall(self.beat)
        reactor.callWhenRunning(  # type: ignore[attr-defined]
            heartbeat.start, self.settings.getfloat("PORTAL_WORKER_HEARTBEAT"), now=False
        )
        try:
            self.process.start(stop_after_crawl=not self.forever)
        finally:
            with contextlib.suppress(RedisError):  # the key expires by itself
                self.redis.delete(worker_key(self.namespace, self.worker_id))
        return self.summaries
