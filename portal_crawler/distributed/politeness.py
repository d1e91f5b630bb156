"""Politeness shared by every worker: per portal host, in total, not per worker.

Each request, just before it is sent (in the download handler, after Scrapy's
own slots), asks Redis for its host's send slot in one Lua script on Redis's
clock, and waits without blocking the reactor until it gets one:

- with a delay (the profile's, a robots.txt Crawl-delay, or DOWNLOAD_DELAY):
  one request at a time, sent at least `delay` after the previous one was
  answered (and after it was sent). A worker cannot know when a request it
  was granted actually left (its reactor may be busy writing to the database
  first), but it knows when the answer came, so spacing from the answer holds
  at the portal whatever the workers' load. Slow answers slow the crawl down,
  as AutoThrottle would;
- without a delay: at most `concurrency` requests in progress at once.

A request in progress holds a token with a deadline that its worker renews,
so the tokens of a killed worker lapse after PORTAL_LEASE_SECONDS.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.task import deferLater

from portal_crawler.distributed.connection import RedisError, connect, lost_redis
from portal_crawler.distributed.keys import host_keys
from portal_crawler.urls import host_and_port

# How often a request waiting for its turn or a free token asks again.
POLL = 0.05
POLL_MS = int(POLL * 1000)
# A waiter that stops asking for this long after its expected turn (its worker died)
# loses its place in the line.
LINE_GRACE_MS = 10_000

# KEYS: host_keys(). ARGV: delay ms, concurrency, token, hold ms, grace ms, poll ms.
# Requests are served in the order they first asked (no worker starves another);
# the further back in the line, the less often a request asks.
# 0: go (token taken); > 0: ask again in that many ms; -1: ask again in POLL.
_ENTER = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local delay, token, poll = tonumber(ARGV[1]), ARGV[3], tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ms)
if not redis.call('ZSCORE', KEYS[3], token) then
  redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[5]), token)
end
redis.call('HSET', KEYS[4], token, ms)
-- Waiters at the head of the line that stopped asking (their worker died) leave it.
local stale = ms - delay - tonumber(ARGV[5])
while true do
  local head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
  if head == token or tonumber(redis.call('HGET', KEYS[4], head) or '0') >= stale then break end
  redis.call('ZREM', KEYS[3], head)
  redis.call('HDEL', KEYS[4], head)
end
local rank = redis.call('ZRANK', KEYS[3], token)
local busy = redis.call('ZCARD', KEYS[2])
if delay > 0 then
  -- One at a time, the next `delay` after an answer: only the head of the line may go.
  if rank > 0 then return poll * math.min(rank, 10) end
  if busy > 0 then return -1 end
  local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
  if last >= 0 and last + delay > ms then return last + delay - ms end
else
  -- The first `free` of the line may go.
  local free = tonumber(ARGV[2]) - busy
  if rank >= free then return poll * math.min(rank - math.max(free, 0) + 1, 10) end
end
redis.call('ZREM', KEYS[3], token)
redis.call('HDEL', KEYS[4], token)
redis.call('SET', KEYS[1], ms, 'PX', delay + 60000)
redis.call('ZADD', KEYS[2], ms + tonumber(ARGV[4]), token)
for i = 2, 5 do redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[4]) + delay + 60000) end
return 0
"""

# KEYS: host_keys(). ARGV: token. A waiter gives up its place (its request was cancelled).
_WITHDRAW = """
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 0
"""

# KEYS: last event, tokens in progress. ARGV: token, delay ms. The answer is in.
_LEAVE = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then
  redis.call('SET', KEYS[1], ms, 'PX', tonumber(ARGV[2]) + 60000)
end
return 0
"""

# KEYS: tokens in progress. ARGV: hold ms, tokens...
_RENEW = """
local now = redis.call('TIME')
local until_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', until_ms, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 0
"""


async def _sleep(seconds: float) -> None:
    from twisted.internet import reactor  # the one Scrapy installed

    await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))


class HostGate:
    """The shared send slots of hosts, as seen from one worker."""

    def __init__(self, redis: Any, namespace: str, worker: str, hold: float):
        self.redis = redis
        self.namespace = namespace
        self.worker = worker
        self.hold_ms = int(hold * 1000)
        self.held: dict[str, tuple[str, int]] = {}  # token -> (host, delay ms)
        self._serial = itertools.count(1)
        self._enter = redis.register_script(_ENTER)
        self._leave = redis.register_script(_LEAVE)
        self._withdraw = redis.register_script(_WITHDRAW)
        self._renew = redis.register_script(_RENEW)

    async def enter(self, netloc: str, delay: float, concurrency: int) -> str:
        """Wait for the host's next send slot; the token to give back with leave()."""
        token = f"{self.worker}:{next(self._serial)}"
        keys = host_keys(self.namespace, netloc)
        delay_ms = int(delay * 1000)
        args = [delay_ms, max(concurrency, 1), token, self.hold_ms, LINE_GRACE_MS, POLL_MS]
        granted = False
        try:
            while True:
                wait = int(self._enter(keys=keys, args=args))
                if wait == 0:
                    granted = True
                    self.held[token] = (netloc, delay_ms)
                    return token
                await _sleep(wait / 1000 if wait > 0 else POLL)
        finally:
            if not granted:  # cancelled while waiting: let the next in line go
                self._withdraw(keys=keys, args=[token])

    def leave(self, token: str) -> None:
        """The request's answer (or failure) is in."""
        held = self.held.pop(token, None)
        if held is not None:
            netloc, delay_ms = held
            self._leave(keys=host_keys(self.namespace, netloc), args=[token, delay_ms])

    def renew(self) -> None:
        """Keep the tokens of requests still in progress from lapsing."""
        by_host: dict[str, list[str]] = {}
        for token, (netloc, _) in list(self.held.items()):
            by_host.setdefault(netloc, []).append(token)
        for netloc, tokens in by_host.items():
            self._renew(keys=[host_keys(self.namespace, netloc)[1]], args=[self.hold_ms, *tokens])


def host_limits(crawler: Crawler, request: Request) -> tuple[float, int]:
    """(delay, concurrency) for the host of a request about to leave.

    The profile's, unless the worker was started with DOWNLOAD_DELAY or
    CONCURRENT_REQUESTS_PER_DOMAIN (kept as PORTAL_HOST_DELAY/_CONCURRENCY); never
    less than the host's robots.txt Crawl-delay.
    """
    settings = crawler.settings
    spider = crawler.spider
    profile = getattr(spider, "profile", None)
    delay_setting = settings.get("PORTAL_HOST_DELAY")
    if delay_setting not in (None, ""):
        delay = float(delay_setting)
    else:
        delay = profile.download_delay if profile else 1.0
    concurrency_setting = settings.get("PORTAL_HOST_CONCURRENCY")
    if concurrency_setting not in (None, ""):
        concurrency = int(concurrency_setting)
    else:
        concurrency = profile.concurrency if profile else 2
    # Crawl-delay is known by the portal's live host (CrawlDelayRobotsTxtMiddleware).
    live = getattr(spider, "live_url", lambda url: url)(request.url)
    floors: dict[str, float] = crawler.__dict__.get("portal_delay_floors", {})
    delay = max(delay, floors.get(urlsplit(live).hostname or "", 0.0))
    return delay, concurrency


class SharedPolitenessHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, sending each request only in its host's shared slot."""

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        settings = crawler.settings
        self.gate = HostGate(
            connect(settings["PORTAL_REDIS_URL"]),
            settings["PORTAL_REDIS_NAMESPACE"],
            settings["PORTAL_WORKER_ID"],
            hold=settings.getfloat("PORTAL_LEASE_SECONDS"),
        )
        crawler.portal_gate = self.gate  # type: ignore[attr-defined]

    async def download_request(self, request: Request) -> Response:
        delay, concurrency = host_limits(self._crawler, request)
        try:
            token = await self.gate.enter(host_and_port(request.url), delay, concurrency)
        except RedisError as exc:
            # Without the shared slot we may not send: the request is done again later.
            lost_redis(self._crawler, exc)
            raise IgnoreRequest(f"lost Redis: {exc}") from exc
        try:
            return await super().download_request(request)
        finally:
            with contextlib.suppress(RedisError):  # the token lapses by itself
                self.gate.leave(token)
