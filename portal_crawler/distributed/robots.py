"""robots.txt, fetched once per job and host by the first worker that needs it.

The others wait for that copy in Redis (the job's `robots` hash) instead of
fetching it again; Crawl-delay and the rules then apply as in a single crawl.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from scrapy import Request
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from portal_crawler.distributed.connection import RedisError, connect, lost_redis
from portal_crawler.distributed.keys import JobKeys
from portal_crawler.distributed.politeness import _sleep
from portal_crawler.middlewares import CrawlDelayRobotsTxtMiddleware

logger = logging.getLogger(__name__)

POLL = 0.05
FETCH_LOCK_SECONDS = 60

# KEYS: the job's robots hash, the host's fetch lock. ARGV: host, lock seconds.
# The copy if there is one; 1 if the caller is to fetch it; nil while another fetches.
_COPY_OR_LOCK = """
local copy = redis.call('HGET', KEYS[1], ARGV[1])
if copy then return copy end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then return 1 end
return false
"""


class SharedRobotsTxtMiddleware(CrawlDelayRobotsTxtMiddleware):
    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self.redis = connect(crawler.settings["PORTAL_REDIS_URL"])
        self.ttl_ms = int(crawler.settings.getfloat("PORTAL_JOB_TTL") * 1000)
        self.fetching: dict[str, JobKeys] = {}
        self._copy_or_lock = self.redis.register_script(_COPY_OR_LOCK)

    async def robot_parser(self, request: Request) -> Any:
        netloc = urlparse_cached(request).netloc
        keys: JobKeys | None = getattr(self.crawler.spider, "job_keys", None)
        if netloc in self._parsers or keys is None:
            return await super().robot_parser(request)
        try:
            copy = await self._shared_copy(keys, netloc)
        except RedisError as exc:
            lost_redis(self.crawler, exc)
            copy = None
        if netloc in self._parsers:  # another request of ours got there while we waited
            return await super().robot_parser(request)
        if copy is None:
            self.fetching[netloc] = keys
            return await super().robot_parser(request)
        url = urlparse_cached(request)
        self._parsers[netloc] = Deferred()
        if "error" in copy:
            self._robots_error(Exception(copy["error"]), netloc)
        else:
            response = Response(
                f"{url.scheme}://{netloc}/robots.txt",
                status=copy["status"],
                body=copy["body"].encode("latin-1"),
            )
            await self._parse_robots(response, netloc, request)
        return self._parsers[netloc]

    async def _shared_copy(self, keys: JobKeys, netloc: str) -> dict[str, Any] | None:
        """The job's copy of the host's robots.txt; None when it is ours to fetch."""
        while True:
            # One step, so that a copy shared between our look and our lock is seen.
            stored = self._copy_or_lock(
                keys=[keys.robots, keys.robots_lock(netloc)], args=[netloc, FETCH_LOCK_SECONDS]
            )
            if stored == 1:
                return None
            if stored:
                return json.loads(stored)
            await _sleep(POLL)

    def _share(self, netloc: str, copy: dict[str, Any]) -> None:
        keys = self.fetching.pop(netloc, None)
        if keys is None:
            return
        with contextlib.suppress(RedisError), self.redis.pipeline() as pipe:
            pipe.hset(keys.robots, netloc, json.dumps(copy))
            pipe.pexpire(keys.robots, self.ttl_ms)
            pipe.delete(keys.robots_lock(netloc))
            pipe.execute()

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        self._share(netloc, {"status": response.status, "body": response.body.decode("latin-1")})
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        self._share(netloc, {"error": str(exc) or type(exc).__name__})
        super()._robots_error(exc, netloc)
