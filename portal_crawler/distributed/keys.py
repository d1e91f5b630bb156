"""Redis key names, in one place.

Every key of a portal's job carries the portal id as a Redis Cluster hash tag
(``portal-archive:{anbien}:…``), so the Lua scripts that touch several of them
at once run on one node. Keys of one host's politeness slot carry the host.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "portal-archive"
# The request that a planning step (enqueue) claims URLs for: never leased.
PLANNER = "enqueue"


@dataclass(frozen=True)
class JobKeys:
    """The keys of one crawl job of one portal."""

    namespace: str
    portal: str
    job: str

    def _key(self, *parts: str) -> str:
        return ":".join((self.namespace, "{" + self.portal + "}", *parts))

    @property
    def pointer(self) -> str:
        """The portal's active job: a hash (id, state, config)."""
        return self._key("job")

    @property
    def requests(self) -> str:
        """Queued request ids, a sorted set (score: priority, then arrival)."""
        return self._key(self.job, "requests")

    @property
    def payloads(self) -> str:
        """Serialized requests by id, queued or in flight."""
        return self._key(self.job, "payloads")

    @property
    def inflight(self) -> str:
        """Leased request ids, a sorted set scored by lease deadline (ms, Redis time)."""
        return self._key(self.job, "inflight")

    @property
    def owners(self) -> str:
        """Which worker holds each lease."""
        return self._key(self.job, "owners")

    @property
    def sequence(self) -> str:
        return self._key(self.job, "seq")

    @property
    def dupefilter(self) -> str:
        """Fingerprints of requests scheduled in this job (scrapy-redis format)."""
        return self._key(self.job, "dupefilter")

    @property
    def claims(self) -> str:
        """What the job has taken on: listing pages, articles, signatures, media."""
        return self._key(self.job, "claims")

    @property
    def robots(self) -> str:
        """robots.txt bodies fetched in this job, by host."""
        return self._key(self.job, "robots")

    def robots_lock(self, netloc: str) -> str:
        return self._key(self.job, "robots-lock", netloc)

    def job_keys(self) -> list[str]:
        """Every key the job owns (deleted when it ends, expired when abandoned)."""
        return [
            self.requests,
            self.payloads,
            self.inflight,
            self.owners,
            self.sequence,
            self.dupefilter,
            self.claims,
            self.robots,
        ]


def portals_key(namespace: str) -> str:
    """The set of portals that have had a job (bounded by the profiles)."""
    return f"{namespace}:portals"


def worker_key(namespace: str, worker: str) -> str:
    """Present while a worker is alive (expires a lease period after its last beat)."""
    return f"{namespace}:worker:{worker}"


def host_keys(namespace: str, netloc: str) -> list[str]:
    """A host's send slot: time of its last request or answer, requests in progress,
    the line of requests waiting (by ticket), when each waiter last asked, the tickets."""
    tag = "{" + netloc + "}"
    return [f"{namespace}:host:{tag}:{part}" for part in ("last", "active", "line", "asked", "seq")]
