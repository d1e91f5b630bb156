"""When a worker may acknowledge a request: after everything it produced is done.

A request's work is done when its callback (or errback) has produced all its
output, every request it yielded is in the job's queue, and every item it
yielded has been through the item pipelines (stored in the archive, its media
fetched). Scrapy reads a callback's output ahead of processing it, so each
output is counted until it is done. Only then is the lease acknowledged; a
worker killed before that leaves the lease to expire and another worker does
the request again. A redirect or retry replaces its request in the queue instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler

from portal_crawler.distributed.connection import RedisError, crawl_stopping, lost_redis
from portal_crawler.distributed.queue import LEASE_META, LeaseQueue

# On a request a callback yielded: the lease of the request whose callback it was.
PARENT_META = "portal_parent_lease"

logger = logging.getLogger(__name__)


@dataclass
class _Lease:
    output_done: bool = False
    pending: int = 0  # outputs yielded: requests not yet queued, items not yet stored


def lease_of(response: Any) -> str | None:
    """The lease of the request behind a Response, or behind a Failure given to an errback."""
    request = getattr(response, "request", None)
    return request.meta.get(LEASE_META) if request is not None else None


class LeaseTracker:
    """The leases one crawler holds, and what each is still waiting for."""

    def __init__(self, queue: LeaseQueue, crawler: Crawler):
        self.queue = queue
        self.crawler = crawler
        self.held: dict[str, _Lease] = {}
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(self._item_done, signal=signal)

    def hold(self, lease: str) -> None:
        self.held[lease] = _Lease()

    def output_started(self, lease: str) -> None:
        if lease in self.held:
            self.held[lease].pending += 1

    def output_finished(self, lease: str | None) -> None:
        """A request the callback yielded is queued, or an item of it is processed."""
        if lease in self.held:
            self.held[lease].pending -= 1  # type: ignore[index]
            self._maybe_ack(lease)  # type: ignore[arg-type]

    def _item_done(self, response: Any = None, **_: Any) -> None:
        self.output_finished(lease_of(response))

    def output_done(self, lease: str) -> None:
        if lease in self.held:
            self.held[lease].output_done = True
            self._maybe_ack(lease)

    def replaced(self, lease: str, *, by_nothing: bool = False) -> None:
        """A redirect or retry of the request was queued in its place (or filtered out)."""
        if self.held.pop(lease, None) is not None and by_nothing:
            self._ack(lease)

    def _maybe_ack(self, lease: str) -> None:
        state = self.held[lease]
        if not state.output_done or state.pending > 0:
            return
        if crawl_stopping(self.crawler):
            return  # perhaps not stored: keep it, it goes back to the queue
        del self.held[lease]
        self._ack(lease)

    def _ack(self, lease: str) -> None:
        try:
            acknowledged = self.queue.ack(lease)
        except RedisError as exc:
            lost_redis(self.crawler, exc)
            return
        if not acknowledged:
            logger.warning(
                "request %s was taken over by another worker before we finished it "
                "(lease expired: raise PORTAL_LEASE_SECONDS?)",
                lease,
            )

    def orphans(self) -> list[str]:
        """Leases still held when the crawler is idle: nothing will finish them."""
        return list(self.held)

    def ack_orphans(self) -> None:
        for lease in self.orphans():
            logger.warning("request %s ended with outputs unaccounted for", lease)
            self.held.pop(lease, None)
            self._ack(lease)

    def renew(self) -> None:
        for lease in self.queue.renew(list(self.held)):
            logger.warning("lost the lease of request %s (another worker took it over)", lease)
            self.held.pop(lease, None)

    def release_all(self) -> int:
        """Give every lease back to the queue (this worker stops)."""
        leases, self.held = list(self.held), {}
        return self.queue.release(leases)
