"""Redis for the workers: one client per URL and process, and what to do when it is lost.

A worker that loses Redis stops its crawls at once and acknowledges nothing
more: what it had leased stays in Redis and is done again, by whichever worker,
once Redis answers (a systemd unit with Restart=on-failure brings the worker
back). Short network blips are absorbed by the client's own retries.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "distributed crawling needs redis and scrapy-redis: pip install 'portal-archive[scale]'"
)

try:
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover - the `scale` extra is optional

    class RedisError(Exception):  # type: ignore[no-redef]
        """Stands in for redis.exceptions.RedisError when redis is not installed."""


@functools.cache
def connect(url: str) -> Any:
    """A redis.Redis client for URL (bytes in, bytes out)."""
    try:
        import redis
    except ImportError as exc:
        raise RuntimeError(INSTALL_HINT) from exc
    return redis.Redis.from_url(
        url, socket_timeout=30, socket_connect_timeout=10, retry_on_timeout=True
    )


def text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def lost_redis(crawler: Crawler, exc: BaseException) -> None:
    """Redis failed under a crawl: stop it, once, and say why."""
    if getattr(crawler, "portal_redis_error", None):
        return
    message = f"lost Redis: {exc}"
    crawler.portal_redis_error = message  # type: ignore[attr-defined]
    logger.error("%s; stopping (leased requests are done again once Redis is back)", message)
    if crawler.engine is not None and crawler.engine.spider is not None:
        deferred_from_coro(crawler.engine.close_spider_async(reason="redis_error"))


def crawl_stopping(crawler: Crawler) -> bool:
    """The crawl cannot go on safely: no archive, or no Redis. Acknowledge nothing."""
    return bool(
        getattr(crawler, "portal_blocked", None)
        or getattr(crawler, "portal_archive_error", None)
        or getattr(crawler, "portal_redis_error", None)
    )
