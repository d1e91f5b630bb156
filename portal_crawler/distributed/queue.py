"""The job's request queue with leases, and the scrapy-redis scheduler around it.

A request popped by a worker is not gone: it moves to the job's in-flight set
with a lease (owner, deadline). The worker acknowledges it once its callback's
output is processed (portal_crawler.distributed.leases), renews the lease while
it works, and gives it back when it stops. A lease whose deadline passes (its
worker died) is put back in the queue by any live worker, so that a request
in flight in a killed worker is not lost. A redirect or a retry takes its
request's place in one step.

Each request has an id for its whole life (also when reclaimed), which the
claims of its callback are made in: a request handled twice claims nothing
twice and loses nothing it claimed.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import Base
from scrapy_redis.scheduler import Scheduler

from portal_crawler.distributed import serializer
from portal_crawler.distributed.connection import RedisError, crawl_stopping, lost_redis, text
from portal_crawler.distributed.keys import JobKeys

logger = logging.getLogger(__name__)

LEASE_META = "portal_lease"
# Queue order: priority first, then arrival; reclaimed requests go to the front.
_PRIORITY_SPAN = 2**40
_FRONT = -(2**52)

# KEYS: requests, payloads, sequence, inflight, owners.
# ARGV: payload, score base, request it replaces ('' if none), worker, job ttl ms.
# (Every key a script creates gets the job's lifetime: a late write to an ended
# job, by a worker too slow to notice, expires instead of staying forever.)
_PUSH = """
local id = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[2], id, ARGV[1])
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + id, id)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[5], ARGV[3]) == ARGV[4] then
  redis.call('ZREM', KEYS[4], ARGV[3])
  redis.call('HDEL', KEYS[5], ARGV[3])
  redis.call('HDEL', KEYS[2], ARGV[3])
end
return id
"""

# KEYS: requests, payloads, inflight, owners. ARGV: worker, lease ms, job ttl ms.
_POP = """
local popped = redis.call('ZPOPMIN', KEYS[1])
if #popped == 0 then return false end
local id = popped[1]
local now = redis.call('TIME')
local deadline = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[2])
redis.call('ZADD', KEYS[3], deadline, id)
redis.call('HSET', KEYS[4], id, ARGV[1])
for i = 3, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
return {id, redis.call('HGET', KEYS[2], id)}
"""

# KEYS: requests, payloads, inflight, owners. ARGV: worker, id.
# 1: done; 0: another worker holds it now (it was reclaimed from us).
_ACK = """
if redis.call('HGET', KEYS[4], ARGV[2]) == ARGV[1] then
  redis.call('ZREM', KEYS[3], ARGV[2])
  redis.call('HDEL', KEYS[4], ARGV[2])
  redis.call('HDEL', KEYS[2], ARGV[2])
  return 1
end
if redis.call('ZREM', KEYS[1], ARGV[2]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[2])
  return 1
end
return 0
"""

# KEYS: inflight, owners. ARGV: worker, lease ms, ids...; returns ids no longer ours.
_RENEW = """
local now = redis.call('TIME')
local deadline = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[2])
local lost = {}
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i])
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""

# KEYS: requests, inflight, owners. ARGV: front score, worker ('' = expired leases of
# anyone), ids... (with a worker). Returns {id, owner, ...} of what went back.
_REQUEUE = """
local ids = {}
if ARGV[2] == '' then
  local now = redis.call('TIME')
  local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ms, 'LIMIT', 0, 1000)
else
  for i = 3, #ARGV do table.insert(ids, ARGV[i]) end
end
local moved = {}
for _, id in ipairs(ids) do
  local owner = redis.call('HGET', KEYS[3], id)
  if owner and (ARGV[2] == '' or owner == ARGV[2]) then
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(id), id)
    table.insert(moved, id)
    table.insert(moved, owner)
  end
end
return moved
"""


class LeaseQueue(Base):
    """A job's queue (scrapy-redis queue API: push, pop, len) with leases."""

    def __init__(
        self,
        server: Any,
        spider: Spider,
        keys: JobKeys,
        worker: str,
        lease: float,
        ttl: float,
    ):
        super().__init__(server, spider, keys.requests, serializer=serializer)
        self.keys = keys
        self.worker = worker
        self.lease_ms = int(lease * 1000)
        self.ttl_ms = int(ttl * 1000)
        self._push = server.register_script(_PUSH)
        self._pop = server.register_script(_POP)
        self._ack = server.register_script(_ACK)
        self._renew = server.register_script(_RENEW)
        self._requeue = server.register_script(_REQUEUE)

    def __len__(self) -> int:
        return int(self.server.zcard(self.keys.requests))

    def push(self, request: Request, replaces: str | None = None) -> str:
        """Queue a request (in place of the leased request `replaces`); its id."""
        k = self.keys
        score = -request.priority * _PRIORITY_SPAN
        return str(
            self._push(
                keys=[k.requests, k.payloads, k.sequence, k.inflight, k.owners],
                args=[
                    self._encode_request(request),
                    score,
                    replaces or "",
                    self.worker,
                    self.ttl_ms,
                ],
            )
        )

    def pop(self, timeout: int = 0) -> Request | None:
        k = self.keys
        popped = self._pop(
            keys=[k.requests, k.payloads, k.inflight, k.owners],
            args=[self.worker, self.lease_ms, self.ttl_ms],
        )
        if not popped:
            return None
        lease, payload = text(popped[0]), popped[1]
        if payload is None:  # cannot happen unless someone edited the keys by hand
            logger.error("request %s of job %s has no payload; dropped", lease, k.job)
            self.ack(lease or "")
            return None
        request = self._decode_request(payload)
        request.meta[LEASE_META] = lease
        return request

    def ack(self, lease: str) -> bool:
        """The request's work is done (False: it was reclaimed and is someone else's now)."""
        k = self.keys
        keys = [k.requests, k.payloads, k.inflight, k.owners]
        return bool(self._ack(keys=keys, args=[self.worker, lease]))

    def renew(self, leases: list[str]) -> list[str]:
        """Push our leases' deadlines forward; the leases we no longer hold."""
        if not leases:
            return []
        k = self.keys
        lost = self._renew(keys=[k.inflight, k.owners], args=[self.worker, self.lease_ms, *leases])
        return [text(lease) or "" for lease in lost]

    def release(self, leases: list[str]) -> int:
        """Give our leases back to the queue (a worker that stops without finishing)."""
        if not leases:
            return 0
        k = self.keys
        moved = self._requeue(
            keys=[k.requests, k.inflight, k.owners], args=[_FRONT, self.worker, *leases]
        )
        return len(moved) // 2

    def reclaim(self) -> dict[str, int]:
        """Put expired leases (of workers that died) back in the queue; count by owner."""
        k = self.keys
        moved = self._requeue(keys=[k.requests, k.inflight, k.owners], args=[_FRONT, ""])
        owners: dict[str, int] = {}
        for owner in moved[1::2]:
            name = text(owner) or "?"
            owners[name] = owners.get(name, 0) + 1
        return owners

    def clear(self) -> None:
        # A worker never clears the shared queue: the job ends when it is empty.
        pass


class JobDupeFilter(RFPDupeFilter):
    """scrapy-redis's duplicate filter, one set per job, with the job's lifetime.

    A persistent filter (scrapy-redis's default key) would grow forever and
    would block the next run's listing pages; a job's filter is deleted when
    the job ends and expires with an abandoned job.
    """

    def __init__(self, server: Any, key: str, ttl: float, debug: bool = False):
        super().__init__(server, key, debug)
        self.ttl_ms = int(ttl * 1000)

    def request_seen(self, request: Request) -> bool:
        fingerprint = self.request_fingerprint(request)
        with self.server.pipeline() as pipe:
            pipe.sadd(self.key, fingerprint)
            pipe.pexpire(self.key, self.ttl_ms)
            added, _ = pipe.execute()
        return added == 0

    def close(self, reason: str = "") -> None:
        pass  # other workers still use it; the job's end deletes it

    def clear(self) -> None:
        pass


class LeasingScheduler(Scheduler):
    """scrapy-redis's scheduler on the job's leased queue and duplicate filter."""

    def __init__(self, server: Any, crawler: Crawler, **kwargs: Any):
        # Never flush: the queue belongs to the job, not to this worker.
        super().__init__(server, persist=True, **kwargs)
        self.crawler = crawler
        self.leases: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LeasingScheduler:
        from portal_crawler.distributed.connection import connect

        server = connect(crawler.settings["PORTAL_REDIS_URL"])
        scheduler = cls(server, crawler)
        scheduler.stats = crawler.stats
        return scheduler

    def open(self, spider: Spider) -> None:
        from portal_crawler.distributed.leases import LeaseTracker

        self.spider = spider
        settings = self.crawler.settings
        keys: JobKeys = spider.job_keys  # type: ignore[attr-defined]
        self.queue = LeaseQueue(
            self.server,
            spider,
            keys,
            worker=settings["PORTAL_WORKER_ID"],
            lease=settings.getfloat("PORTAL_LEASE_SECONDS"),
            ttl=settings.getfloat("PORTAL_JOB_TTL"),
        )
        self.df = JobDupeFilter(
            self.server,
            keys.dupefilter,
            settings.getfloat("PORTAL_JOB_TTL"),
            debug=settings.getbool("DUPEFILTER_DEBUG"),
        )
        self.leases = LeaseTracker(self.queue, self.crawler)
        self.crawler.portal_leases = self.leases  # type: ignore[attr-defined]

    def close(self, reason: str) -> None:
        pass  # the extension gives back unfinished leases; the job keeps the queue

    def _blocked(self) -> bool:
        # A worker that cannot write the archive must not take requests it would lose.
        return crawl_stopping(self.crawler)

    def enqueue_request(self, request: Request) -> bool:
        from portal_crawler.distributed.leases import PARENT_META

        # A request a callback yielded names the lease it belongs to; a redirect
        # or retry carries the lease of the request it takes the place of.
        parent = request.meta.pop(PARENT_META, None)
        replaces = request.meta.pop(LEASE_META, None)
        try:
            queued = self._enqueue(request, replaces)
        except RedisError as exc:
            # Not queued: its parent is not acknowledged, so it will be found again.
            lost_redis(self.crawler, exc)
            return False
        if parent:
            self.leases.output_finished(parent)
        return queued

    def _enqueue(self, request: Request, replaces: str | None) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            if replaces:
                self.leases.replaced(replaces, by_nothing=True)
            return False
        self.queue.push(request, replaces=replaces)
        if replaces:
            self.leases.replaced(replaces)
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        if self._blocked():
            return None
        try:
            request = self.queue.pop()
        except RedisError as exc:
            lost_redis(self.crawler, exc)
            return None
        if request is not None:
            self.leases.hold(request.meta[LEASE_META])
            if self.stats:
                self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def has_pending_requests(self) -> bool:
        if self._blocked():
            return False
        try:
            return len(self.queue) > 0
        except RedisError as exc:
            lost_redis(self.crawler, exc)
            return False
