"""A crawl job in Redis: what to crawl, its lifetime, and what it has claimed.

A portal has at most one active job. `enqueue` reserves it (state "planning"),
pushes the first requests, then marks it "ready"; workers only take ready
jobs. The job ends when its queue and its leases are both empty: the worker
that sees this first deletes every key of the job, in one script, so that no
request can slip in between. A job that no worker touches for PORTAL_JOB_TTL
seconds expires as a whole.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from portal_crawler.distributed.connection import text
from portal_crawler.distributed.keys import JobKeys, portals_key

DEFAULT_JOB_TTL = 7 * 86400.0

_RESERVE = """
local current = redis.call('HGET', KEYS[1], 'id')
if current then return current end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', 'planning', 'config', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return false
"""

# KEYS: pointer, requests, inflight, then every key of the job. ARGV: job id.
# -1: the job is gone (another worker ended it); 0: work remains; 1: ended now.
_FINISH = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return -1 end
if redis.call('ZCARD', KEYS[2]) > 0 or redis.call('ZCARD', KEYS[3]) > 0 then return 0 end
redis.call('DEL', unpack(KEYS))
return 1
"""

# KEYS: pointer, then every key of the job. ARGV: job id, ttl ms.
_REFRESH = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[2]) end
return 1
"""

# KEYS: pointer, then every key of the job. ARGV: job id.
_DROP = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('DEL', unpack(KEYS))
return 1
"""

# A claim belongs to the request (lease) that made it: when a dead worker's
# request is handled again under the same lease, its claims still hold for it.
_CLAIM = """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return 1 end
return 0
"""

# One more listing page walked in a section, counted once per request.
_COUNT_PAGE = """
local counter = 'n\\0' .. ARGV[1]
if redis.call('HSETNX', KEYS[1], 'w\\0' .. ARGV[1] .. '\\0' .. ARGV[2], 1) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return redis.call('HINCRBY', KEYS[1], counter, 1)
end
return tonumber(redis.call('HGET', KEYS[1], counter) or '0')
"""


@dataclass
class Job:
    """One crawl of one portal, as `enqueue` planned it."""

    id: str
    portal: str
    mirror: str | None = None
    full: bool = False
    section: str | None = None
    all_sections: bool = False
    # Sections an earlier finished run walked to the end: early stops are safe there.
    walked: list[str] = field(default_factory=list)
    created_at: str = ""
    # What enqueue queued: listing pages, resumed frontier URLs, re-checks.
    planned: dict[str, int] = field(default_factory=dict)

    @classmethod
    def new(cls, portal: str, **options: Any) -> Job:
        now = datetime.now(UTC)
        job_id = now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
        created = now.isoformat(timespec="seconds")
        return cls(id=job_id, portal=portal, created_at=created, **options)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str | bytes) -> Job:
        return cls(**json.loads(data))


class JobStore:
    """The jobs of one namespace."""

    def __init__(self, redis: Any, namespace: str, ttl: float = DEFAULT_JOB_TTL):
        self.redis = redis
        self.namespace = namespace
        self.ttl_ms = int(ttl * 1000)
        self._reserve = redis.register_script(_RESERVE)
        self._finish = redis.register_script(_FINISH)
        self._refresh = redis.register_script(_REFRESH)
        self._drop = redis.register_script(_DROP)

    def keys(self, job: Job) -> JobKeys:
        return JobKeys(self.namespace, job.portal, job.id)

    def reserve(self, job: Job) -> str | None:
        """Make `job` the portal's job (still planning); the id of the active one if any."""
        keys = self.keys(job)
        held = self._reserve(keys=[keys.pointer], args=[job.id, job.to_json(), self.ttl_ms])
        return text(held)

    def activate(self, job: Job) -> None:
        """Planning is done: workers may take the job."""
        keys = self.keys(job)
        with self.redis.pipeline() as pipe:
            pipe.hset(keys.pointer, mapping={"state": "ready", "config": job.to_json()})
            pipe.pexpire(keys.pointer, self.ttl_ms)
            for key in keys.job_keys():
                pipe.pexpire(key, self.ttl_ms)
            pipe.sadd(portals_key(self.namespace), job.portal)
            pipe.execute()

    def drop(self, job: Job) -> bool:
        """Delete a job and everything it holds (an enqueue that failed half-way)."""
        keys = self.keys(job)
        return bool(self._drop(keys=[keys.pointer, *keys.job_keys()], args=[job.id]))

    def current(self, portal: str) -> tuple[str, Job] | None:
        """(state, job) of the portal's active job, if any."""
        pointer = JobKeys(self.namespace, portal, "").pointer
        fields = self.redis.hgetall(pointer)
        if not fields or b"config" not in fields:
            return None
        return text(fields.get(b"state")) or "", Job.from_json(fields[b"config"])

    def ready_jobs(self) -> list[Job]:
        portals = sorted(text(p) or "" for p in self.redis.smembers(portals_key(self.namespace)))
        jobs = []
        for portal in portals:
            found = self.current(portal)
            if found is not None and found[0] == "ready":
                jobs.append(found[1])
        return jobs

    def finish_if_done(self, job: Job) -> int:
        """End the job if nothing is queued or leased: 1 ended now, 0 not done, -1 gone."""
        keys = self.keys(job)
        return int(
            self._finish(
                keys=[keys.pointer, keys.requests, keys.inflight, *keys.job_keys()], args=[job.id]
            )
        )

    def refresh(self, job: Job) -> bool:
        """Keep a job that workers are busy with from expiring; False when it is gone."""
        keys = self.keys(job)
        return bool(
            self._refresh(keys=[keys.pointer, *keys.job_keys()], args=[job.id, self.ttl_ms])
        )

    def pending(self, job: Job) -> tuple[int, int]:
        """(queued, leased) requests of the job."""
        keys = self.keys(job)
        with self.redis.pipeline() as pipe:
            pipe.zcard(keys.requests)
            pipe.zcard(keys.inflight)
            queued, leased = pipe.execute()
        return int(queued), int(leased)


class Claims:
    """A job's shared "seen" sets: whoever claims a key first takes the work it names."""

    def __init__(self, redis: Any, keys: JobKeys, ttl: float = DEFAULT_JOB_TTL):
        self.key = keys.claims
        self.ttl_ms = int(ttl * 1000)
        self._claim = redis.register_script(_CLAIM)
        self._count = redis.register_script(_COUNT_PAGE)

    def claim(self, kind: str, key: str, owner: str) -> bool:
        """True if `owner` (a lease id) is the first to claim kind:key, or claimed it before."""
        field_name = f"{kind}\0{key}"
        return bool(self._claim(keys=[self.key], args=[field_name, owner, self.ttl_ms]))

    def count_page(self, section: str, owner: str) -> int:
        """Listing pages of `section` walked so far, counting owner's page once."""
        return int(self._count(keys=[self.key], args=[section, owner, self.ttl_ms]))
