"""Downloader middlewares and extensions: staying home, politeness, mirrors.

Each class has one job and is wired in settings.py, as Scrapy's own are.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import reactor
from twisted.internet.task import deferLater

from portal_crawler.urls import host_and_port, is_http_url

logger = logging.getLogger(__name__)


class PortalOffsiteMiddleware:
    """Drop requests outside the portal: other hosts, other ports, other schemes.

    The spider says what is home through ``allowed_netlocs`` (host:port pairs,
    the live portal's and the mirror's). Scrapy's own OffsiteMiddleware
    matches domains only, so a second server on 127.0.0.1 would pass it.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PortalOffsiteMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        spider = spider or self.crawler.spider
        allowed = getattr(spider, "allowed_netlocs", None)
        if not allowed or request.meta.get("portal_allow_offsite"):
            return
        stats = self.crawler.stats
        if not is_http_url(request.url):
            stats.inc_value("offsite/bad_scheme")
            raise IgnoreRequest(f"not an http(s) URL: {request.url}")
        if host_and_port(request.url) not in allowed:
            stats.inc_value("offsite/filtered")
            logger.info("Not following offsite URL %s", request.url)
            raise IgnoreRequest(f"offsite: {request.url}")


class MirrorMiddleware:
    """Fetch a portal's URLs from a mirror origin (a replay server, a proxy).

    The spider works in live URLs, so what the archive records is the
    portal's canonical address; only the request that leaves is rewritten.
    Redirects to the live host come back through here and are rewritten too.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MirrorMiddleware:
        return cls(crawler)

    def process_request(self, request: Request, spider: Spider | None = None) -> Request | None:
        spider = spider or self.crawler.spider
        to_fetch = getattr(spider, "fetch_url", None)
        if to_fetch is None:
            return None
        fetch = to_fetch(request.url)
        if fetch != request.url:
            # robots.txt was already checked against the live URL.
            return request.replace(url=fetch, meta={**request.meta, "dont_obey_robotstxt": True})
        return None


class CrawlDelayRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, plus the file's Crawl-delay.

    The delay becomes a floor for the portal's download slot, which
    FloorAutoThrottle keeps AutoThrottle from going under.
    """

    def process_request_2(self, rp: Any, request: Request) -> None:
        super().process_request_2(rp, request)
        if rp is None or not self.crawler.settings.getbool("PORTAL_OBEY_CRAWL_DELAY", True):
            return
        agent = self._robotstxt_useragent or request.headers.get(
            b"User-Agent", self._default_useragent
        )
        try:
            delay = rp.crawl_delay(agent)
        except Exception:  # a malformed robots.txt must not stop the crawl
            delay = None
        if not delay:
            return
        downloader = self.crawler.engine.downloader
        key = downloader.get_slot_key(request)
        floors: dict[str, float] = self.crawler.__dict__.setdefault("portal_delay_floors", {})
        if floors.get(key, 0.0) < delay:
            floors[key] = float(delay)
            self.crawler.stats.set_value("robotstxt/crawl_delay", float(delay))
            logger.info("robots.txt Crawl-delay %.1fs for %s", delay, key)
        slot = downloader.slots.get(key)
        if slot is not None and slot.delay < delay:
            slot.delay = float(delay)
        elif slot is None:
            downloader.per_slot_settings.setdefault(key, {})["delay"] = max(
                float(delay), downloader.per_slot_settings.get(key, {}).get("delay", 0.0)
            )


class FloorAutoThrottle(AutoThrottle):
    """AutoThrottle that never goes below a slot's robots.txt Crawl-delay."""

    def _adjust_delay(self, slot: Any, latency: float, response: Response) -> None:
        super()._adjust_delay(slot, latency, response)
        floors = self.crawler.__dict__.get("portal_delay_floors", {})
        request = response.request
        if request is not None and floors:
            key = self.crawler.engine.downloader.get_slot_key(request)
            slot.delay = max(slot.delay, floors.get(key, 0.0))


class SuccessMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Follow <meta http-equiv=refresh> on successful pages only.

    Error pages of some CMSs (NukeViet's 404) refresh to the home page; the
    article's answer is still a 404, and must be recorded as one.
    """

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if not 200 <= response.status < 300:
            return response
        return super().process_response(request, response)


class BackoffRetryMiddleware(RetryMiddleware):
    """Retry 5xx, 429 and timeouts with exponential backoff and Retry-After.

    The wait is a non-blocking timer, so other portals keep crawling.
    """

    def __init__(self, settings: Any):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("PORTAL_RETRY_BACKOFF_BASE", 2.0)
        self.backoff_max = settings.getfloat("PORTAL_RETRY_BACKOFF_MAX", 60.0)

    def _delay(self, retry: Request, response: Response | None) -> float:
        attempt = retry.meta.get("retry_times", 1)
        delay = self.backoff_base * (2 ** (attempt - 1)) if self.backoff_base > 0 else 0.0
        if response is not None and self.backoff_base > 0:
            value = response.headers.get(b"Retry-After")
            if value and value.strip().isdigit():
                delay = max(delay, float(value.strip()))
        return min(delay, self.backoff_max)

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            await maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))

    async def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        retry = self._retry(request, f"HTTP {response.status}")
        if retry is None:
            return response
        await self._wait(self._delay(retry, response))
        return retry

    async def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry"):
            return None
        retry = self._retry(request, exception)
        if retry is None:
            return None
        await self._wait(self._delay(retry, None))
        return retry
