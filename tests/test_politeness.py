"""Politeness: robots.txt rules and Crawl-delay, retry backoff."""

from __future__ import annotations

import json

from scrapy.http import Request, Response
from scrapy.settings import Settings

from archive import Archive
from portal_crawler.middlewares import BackoffRetryMiddleware
from portal_crawler.replay import ReplayServer
from tests.crawl_helpers import portal_archive
from tests.snapshot_builder import article_page, listing_page, make_snapshot

TITLE_A = "Xã Thử Nghiệm tổng kết công tác dân vận năm 2020"
TITLE_B = "Tập huấn kỹ thuật nuôi tôm sú kết hợp trồng lúa cho hội viên"
LONG_A = (
    "Sáng ngày 3/8, UBND xã tổ chức hội nghị tổng kết công tác dân vận năm 2020 với sự "
    "tham dự của đại diện các ban, ngành, đoàn thể và nhân dân trên địa bàn xã."
)
LONG_B = (
    "Chiều ngày 4/8, Hội Nông dân xã phối hợp với Trạm Khuyến nông huyện tổ chức lớp tập huấn "
    "kỹ thuật nuôi tôm sú kết hợp trồng lúa cho hơn 50 hội viên nông dân."
)


def _small_portal(tmp_path, robots: str):
    return make_snapshot(
        tmp_path / "xa",
        [
            {"path": "/robots.txt", "headers": {"Content-Type": "text/plain"}, "text": robots},
            {
                "path": "/tin-tuc",
                "text": listing_page([("/tin/a-1.html", TITLE_A), ("/tin/b-2.html", TITLE_B)]),
            },
            {
                "path": "/tin/a-1.html",
                "text": article_page(
                    TITLE_A, "(10:40 | 03/08/2020)", [LONG_A, LONG_A + " Đoạn hai."]
                ),
            },
            {
                "path": "/tin/b-2.html",
                "text": article_page(
                    TITLE_B, "(09:00 | 04/08/2020)", [LONG_B, LONG_B + " Đoạn hai."]
                ),
            },
        ],
        section_url="/tin-tuc",
    )


def _crawl_url(server: ReplayServer, db, *settings: str) -> dict:
    args = ["crawl", "--url", server.origin + "/tin-tuc", "--db", str(db), "--json"]
    for setting in ("DOWNLOAD_DELAY=0", "AUTOTHROTTLE_ENABLED=False", *settings):
        args += ["-s", setting]
    return json.loads(portal_archive(*args).stdout)[0]


def test_robots_disallow_is_obeyed_and_recorded(tmp_path):
    snapshot = _small_portal(tmp_path, "User-agent: *\nDisallow: /tin/b-2.html\n")
    with ReplayServer(snapshot) as server:
        summary = _crawl_url(server, tmp_path / "a.sqlite", "PORTAL_OBEY_CRAWL_DELAY=False")
        asked = {path for _, path, _ in server.requests}
    assert "/tin/b-2.html" not in asked
    assert summary["new"] == 1 and summary["robots_forbidden"] == 1
    with Archive.open(tmp_path / "a.sqlite") as archive:
        failures = archive.failures()
    assert [f["url"].endswith("/tin/b-2.html") for f in failures] == [True]
    assert "robots.txt" in failures[0]["reason"]


def test_robots_crawl_delay_is_applied(tmp_path):
    snapshot = _small_portal(tmp_path, "User-agent: *\nCrawl-delay: 0.2\n")
    with ReplayServer(snapshot) as server:
        summary = _crawl_url(server, tmp_path / "b.sqlite")
    assert summary["robots_crawl_delay"] == 0.2
    assert summary["new"] == 2


def _middleware(**settings) -> BackoffRetryMiddleware:
    return BackoffRetryMiddleware(Settings({"RETRY_ENABLED": True, "RETRY_TIMES": 3, **settings}))


def test_backoff_grows_exponentially_and_is_capped():
    middleware = _middleware(PORTAL_RETRY_BACKOFF_BASE=2.0, PORTAL_RETRY_BACKOFF_MAX=5.0)
    delays = [
        middleware._delay(Request("https://x.gov.vn/", meta={"retry_times": n}), None)
        for n in (1, 2, 3)
    ]
    assert delays == [2.0, 4.0, 5.0]


def test_backoff_honours_retry_after_within_the_cap():
    middleware = _middleware(PORTAL_RETRY_BACKOFF_BASE=1.0, PORTAL_RETRY_BACKOFF_MAX=30.0)
    retry = Request("https://x.gov.vn/", meta={"retry_times": 1})
    busy = Response("https://x.gov.vn/", status=503, headers={"Retry-After": "7"})
    assert middleware._delay(retry, busy) == 7.0
    huge = Response("https://x.gov.vn/", status=429, headers={"Retry-After": "86400"})
    assert middleware._delay(retry, huge) == 30.0
    assert _middleware(PORTAL_RETRY_BACKOFF_BASE=0)._delay(retry, busy) == 0.0
