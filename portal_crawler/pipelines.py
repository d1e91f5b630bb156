"""Item pipelines: validate → dedup → archive.

Each has one job. A page the parser could not make an article of becomes a
recorded failure (URL and reason), never an empty row.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from archive import Archive
from portal_crawler.items import ArticleItem, FetchFailureItem
from portal_crawler.parsing.article import Article, missing_fields

logger = logging.getLogger(__name__)


class ValidatePipeline:
    """An article without title, body or date is turned into a failure."""

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if not isinstance(item, ArticleItem):
            return item
        problems = missing_fields(Article.from_dict(item.article))
        if problems:
            reason = "extraction failed: " + ", ".join(problems)
            logger.warning("%s: %s", item.fetched_url, reason)
            return FetchFailureItem(item.portal_id, item.fetched_url, reason, item.http_status)
        return item


class DedupPipeline:
    """One article reached twice in a run (two URLs, same canonical) is stored once."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if isinstance(item, ArticleItem):
            url = item.article["url"]
            if url in self.seen:
                raise DropItem(f"already archived in this run: {url}")
            self.seen.add(url)
        return item


class ArchivePipeline:
    """Writes articles, failures and the run record to the SQLite archive."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.archive: Archive | None = None
        self.run_id: int | None = None
        self.counts = {"new": 0, "unchanged": 0, "changed": 0, "duplicates": 0, "failed": 0}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    def open_spider(self, spider: Any = None) -> None:
        spider = spider or self.crawler.spider
        db = getattr(spider, "db", None) or self.crawler.settings.get("PORTAL_ARCHIVE_DB")
        self.archive = Archive.open(db)
        profile = spider.profile
        self.archive.upsert_portal(
            profile.id,
            profile.name,
            profile.base_url,
            province=profile.province,
            cms=profile.family,
        )
        self.run_id = self.archive.start_run(
            profile.id,
            [s.name for s in spider.sections],
            {"mirror": spider.mirror_origin, "sections": [s.url for s in spider.sections]},
        )

    def process_item(self, item: Any, spider: Any = None) -> Any:
        assert self.archive is not None
        if isinstance(item, FetchFailureItem):
            self.counts["failed"] += 1
            self.archive.record_failure(
                item.portal_id,
                item.url,
                item.reason,
                run_id=self.run_id,
                http_status=item.http_status,
            )
        elif isinstance(item, ArticleItem):
            result = self.archive.store_article(
                item.portal_id,
                item.article,
                fetched_url=item.fetched_url,
                raw_body=item.raw_body,
                http_status=item.http_status,
                headers=item.headers,
                run_id=self.run_id,
                parser_version=item.parser_version,
            )
            key = "duplicates" if result.status == "duplicate" else result.status
            self.counts[key] = self.counts.get(key, 0) + 1
            self.crawler.stats.inc_value(f"archive/{key}")
        return item

    def close_spider(self, spider: Any = None) -> None:
        if self.archive is None:
            return
        stats = self.crawler.stats
        reason = stats.get_value("finish_reason") or "finished"
        status = (
            "finished"
            if reason == "finished"
            else ("interrupted" if reason == "shutdown" else "failed")
        )
        summary = {
            **self.counts,
            "pages": int(stats.get_value("portal/listing_pages", 0))
            - int(stats.get_value("portal/listing_repeats", 0)),
            # Responses plus network errors: a mirrored request passes the
            # downloader middlewares twice, so the request counter overcounts.
            "requests": int(stats.get_value("downloader/response_count", 0))
            + int(stats.get_value("downloader/exception_count", 0)),
            "bytes": int(stats.get_value("downloader/response_bytes", 0)),
            "robots_crawl_delay": stats.get_value("robotstxt/crawl_delay"),
            "robots_forbidden": int(stats.get_value("robotstxt/forbidden", 0)),
        }
        if self.run_id is not None:
            self.archive.finish_run(self.run_id, status, summary)
        self.crawler.__dict__["portal_run_summary"] = {
            "run_id": self.run_id,
            "status": status,
            **summary,
        }
        self.archive.close()
        self.archive = None
