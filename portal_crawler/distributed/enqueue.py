"""`portal-archive enqueue`: plan a portal's crawl and hand it to the workers.

The plan is the single-process crawl's own start (PortalSpider._start_requests
run against the archive): the frontier a killed run left, listing page 1 of
each section, the re-check window with its conditional headers; and the
sections an earlier finished run walked to the end (where the incremental walk
may stop early). Those requests go into the job's queue, and the job is
marked ready for the workers.
"""

from __future__ import annotations

import socket
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from scrapy.settings import BaseSettings
from scrapy.signalmanager import SignalManager

from archive import Archive
from archive.locks import pid_alive
from archive.models import parse_utc
from portal_crawler.distributed.job import Job, JobStore
from portal_crawler.distributed.keys import PLANNER
from portal_crawler.distributed.queue import LeaseQueue
from portal_crawler.distributed.spider import DistributedPortalSpider


class _Stats(Counter):  # type: ignore[type-arg]
    """The part of Scrapy's stats collector the spider's start logic uses."""

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self[key] += count

    def set_value(self, key: str, value: Any) -> None:
        self[key] = value

    def get_value(self, key: str, default: Any = None) -> Any:
        return self.get(key, default)


class _PlanningCrawler:
    """Just enough of a Crawler for the spider's start logic, outside any crawl."""

    def __init__(self, settings: BaseSettings, archive: Archive):
        self.settings = settings
        self.stats = _Stats()
        self.signals = SignalManager(self)
        self.portal_archive = archive


def running_crawl(archive: Archive, portal_id: str, stale_after: float) -> str | None:
    """A message naming the single-process crawl of the portal now running, if any."""
    holder = archive.lock_holder(portal_id)
    if holder is None:
        return None
    if holder["hostname"] == socket.gethostname() and not pid_alive(holder["pid"]):
        return None
    age = (datetime.now(UTC) - parse_utc(holder["heartbeat_at"])).total_seconds()
    if age > stale_after:
        return None
    return (
        f"portal {portal_id!r} is being crawled by process {holder['pid']} on host "
        f"{holder['hostname']} (run {holder['run_id']}); enqueue it when that crawl has finished"
    )


def enqueue_portal(
    store: JobStore,
    archive: Archive,
    settings: BaseSettings,
    portal_id: str,
    **options: Any,
) -> dict[str, Any]:
    """Plan and queue one portal's job; a summary (status "queued" or "refused")."""
    summary: dict[str, Any] = {"portal": portal_id}
    crawling = running_crawl(archive, portal_id, settings.getfloat("PORTAL_LOCK_STALE_AFTER"))
    if crawling:
        return {**summary, "status": "refused", "message": crawling}
    job = Job.new(portal_id, **options)
    active = store.reserve(job)
    if active is not None:
        message = (
            f"portal {portal_id!r} already has a crawl job in Redis ({active}); "
            "enqueue it again when its workers have finished it"
        )
        return {**summary, "status": "refused", "message": message, "job": active}
    try:
        queued = _plan(store, archive, settings, job)
        store.activate(job)
    except BaseException:
        store.drop(job)
        raise
    return {**summary, "status": "queued", "job": job.id, "requests": queued, **job.planned}


def _plan(store: JobStore, archive: Archive, settings: BaseSettings, job: Job) -> int:
    crawler = _PlanningCrawler(settings, archive)
    spider = DistributedPortalSpider.from_crawler(
        crawler,  # type: ignore[arg-type]
        portal=job.portal,
        job=job.to_json(),
        namespace=store.namespace,
    )
    requests = list(spider._start_requests())
    job.walked = sorted(spider.walked_sections)
    job.planned = {
        "listing_pages": len(spider.sections),
        "resumed": int(crawler.stats["portal/resumed"]),
        "rechecked": int(crawler.stats["portal/rechecked"]),
    }
    ttl = store.ttl_ms / 1000
    queue = LeaseQueue(store.redis, spider, store.keys(job), worker=PLANNER, lease=0, ttl=ttl)
    for request in requests:
        queue.push(request)
    return len(requests)
