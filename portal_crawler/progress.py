"""A live progress line per portal on a terminal; plain periodic lines otherwise.

Cron mails whatever a job prints, so off a terminal the extension stays
quiet except for a line every PORTAL_PROGRESS_INTERVAL seconds (0: never).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.internet.task import LoopingCall


class ProgressExtension:
    def __init__(self, crawler: Crawler, stream: TextIO = sys.stderr):
        self.crawler = crawler
        self.stream = stream
        self.live = stream.isatty()
        settings = crawler.settings
        self.interval = 1.0 if self.live else settings.getfloat("PORTAL_PROGRESS_INTERVAL", 60.0)
        self.loop: LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressExtension:
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def line(self) -> str:
        stats = self.crawler.stats
        spider = self.crawler.spider
        name = getattr(getattr(spider, "profile", None), "id", "portal")

        def value(key: str) -> int:
            return int(stats.get_value(key, 0) or 0)

        return (
            f"{name}: {value('portal/listing_pages')} listing pages, "
            f"{value('archive/new')} new, {value('archive/changed')} changed, "
            f"{value('archive/unchanged')} unchanged, {value('archive/removed')} removed, "
            f"{value('archive/failed')} failed; {value('downloader/response_count')} responses"
        )

    def show(self) -> None:
        if self.live:
            self.stream.write("\r\033[K" + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def spider_opened(self, spider: Any) -> None:
        if self.interval > 0:
            self.loop = LoopingCall(self.show)
            self.loop.start(self.interval, now=False)

    def spider_closed(self, spider: Any) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()
