"""HTTP faults and staying home: misbehaving servers over real loopback sockets."""

from __future__ import annotations

import json

from archive import Archive
from tests.crawl_helpers import portal_archive
from tests.fault_server import FaultServer, hang, page, redirect, reset, send, sequence
from tests.snapshot_builder import article_page, listing_page

TEXT = (
    "Sáng ngày 3/8, UBND xã tổ chức hội nghị tổng kết công tác dân vận năm 2020 với sự "
    "tham dự của đại diện các ban, ngành, đoàn thể và nhân dân trên địa bàn xã."
)


def _article(title: str) -> str:
    return article_page(title, "(10:40 | 03/08/2020)", [TEXT, TEXT + " Đoạn kết."])


def _crawl(listing_url: str, db, *settings: str) -> tuple[int, dict, str]:
    args = ["crawl", "--url", listing_url, "--db", str(db), "--json"]
    base = (
        "DOWNLOAD_DELAY=0",
        "AUTOTHROTTLE_ENABLED=False",
        "PORTAL_RETRY_BACKOFF_BASE=0",
        "ROBOTSTXT_OBEY=False",
    )
    for setting in (*base, *settings):
        args += ["-s", setting]
    result = portal_archive(*args, check=False)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout)[0], result.stderr


def test_faults_are_recorded_and_nothing_leaves_home(tmp_path):
    foreign = FaultServer({"/tin/ngoai-1.html": page(_article("Bài của máy chủ khác"))})
    server = FaultServer({})
    titles = {
        "ok": "Xã tổng kết công tác dân vận năm 2020 thành công tốt đẹp",
        "busy": "Hội nông dân xã tập huấn kỹ thuật nuôi tôm càng xanh",
    }
    with foreign, server:
        home = server.origin
        links = [
            ("/tin/ok-1.html", titles["ok"]),
            ("/tin/loop-2.html", "Bài chuyển hướng vòng tròn không bao giờ kết thúc"),
            ("/tin/chain-3.html", "Bài chuyển hướng qua một chuỗi rất dài các địa chỉ"),
            ("/tin/away-4.html", "Bài chuyển hướng sang một máy chủ khác ngoài cổng"),
            ("/tin/busy-5.html", titles["busy"]),
            ("/tin/hang-6.html", "Bài mà máy chủ không bao giờ trả lời khi được hỏi"),
            ("/tin/reset-7.html", "Bài mà máy chủ cắt kết nối ngay khi được hỏi tới"),
            ("/tin/huge-8.html", "Bài có nội dung quá lớn vượt giới hạn cho phép tải"),
            ("/tin/pdf-9.html", "Bài thực chất là một tệp PDF nhưng ghi là HTML"),
            (foreign.origin + "/tin/ngoai-1.html", "Bài nằm trên một máy chủ khác hẳn"),
            ("file:///etc/passwd", "Liên kết tới tệp trên máy chủ cục bộ của người dùng"),
            ("ftp://127.0.0.1/tin/x.html", "Liên kết FTP không phải là HTTP hay HTTPS"),
        ]
        server.routes.update(
            {
                "/tin-tuc": page(listing_page(links)),
                "/tin/ok-1.html": page(_article(titles["ok"])),
                "/tin/loop-2.html": redirect("/tin/loop-2b.html"),
                "/tin/loop-2b.html": redirect("/tin/loop-2.html"),
                "/tin/chain-3.html": redirect("/c/1"),
                **{f"/c/{n}": redirect(f"/c/{n + 1}") for n in range(1, 30)},
                "/tin/away-4.html": redirect(foreign.origin + "/tin/ngoai-1.html"),
                "/tin/busy-5.html": sequence(
                    lambda h: send(h, 429, b"slow down", headers={"Retry-After": "1"}),
                    page(_article(titles["busy"])),
                ),
                "/tin/hang-6.html": hang(server),
                "/tin/reset-7.html": reset,
                "/tin/huge-8.html": page(b"<html><body>" + b"x" * 3_000_000),
                "/tin/pdf-9.html": page(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"),
            }
        )
        db = tmp_path / "faults.sqlite"
        code, run, _ = _crawl(
            home + "/tin-tuc",
            db,
            "DOWNLOAD_TIMEOUT=2",
            "RETRY_TIMES=1",
            "REDIRECT_MAX_TIMES=5",
            "DOWNLOAD_MAXSIZE=1000000",
            "PORTAL_RETRY_BACKOFF_MAX=1",
        )
    assert foreign.requests == []  # linked to, redirected to: never asked
    with Archive.open(db) as archive:
        stored = {a["title"] for a in archive.iter_articles()}
        failures = {f["url"].rsplit("/", 1)[-1]: f["reason"] for f in archive.failures()}
    assert stored == set(titles.values())  # the 429 was retried after its Retry-After
    assert "redirect" in failures["loop-2.html"].lower()
    assert "redirect" in failures["chain-3.html"].lower()
    assert "offsite" in failures["away-4.html"].lower()
    assert "timeout" in failures["hang-6.html"].lower() or "time" in failures["hang-6.html"]
    assert failures["reset-7.html"]
    assert "size" in failures["huge-8.html"].lower() or "large" in failures["huge-8.html"]
    assert "not an HTML page" in failures["pdf-9.html"]
    assert not any("passwd" in url or url.startswith("ftp") for url in failures)
    assert code == 1  # partial: some pages failed for reasons a later run may not meet


def test_pagination_traps_stop_and_say_why(tmp_path):
    server = FaultServer({})
    with server:
        # Every page shows the same entries and links to the next page, forever.
        same = listing_page(
            [("/tin/a-1.html", "Bài viết số một của xã trong tháng này")],
            pager="<div class='pagination'><a href='/lap?page=2'>2</a></div>",
        )
        server.routes["/lap"] = page(same)
        server.routes["/lap?page=2"] = page(same)
        server.routes["/tin/a-1.html"] = page(_article("Bài viết số một của xã trong tháng này"))
        code, run, _ = _crawl(server.origin + "/lap", tmp_path / "a.sqlite")
        assert run["new"] == 1 and run["pages"] == 1 and code == 0

        # Page numbers that never end, each with a fresh entry.
        for n in range(1, 60):
            server.routes[f"/vo-tan?page={n}"] = page(
                listing_page(
                    [(f"/bai/{n}.html", f"Bài viết số {n} của một danh sách không có điểm dừng")],
                    pager=f"<p class='pagination'><a href='/vo-tan?page={n + 1}'>{n + 1}</a></p>",
                )
            )
            server.routes[f"/bai/{n}.html"] = page(
                _article(f"Bài viết số {n} của một danh sách không có điểm dừng")
            )
        server.routes["/vo-tan"] = server.routes["/vo-tan?page=1"]
        code, run, _ = _crawl(
            server.origin + "/vo-tan", tmp_path / "b.sqlite", "PORTAL_MAX_LISTING_PAGES=5"
        )
    assert run["pages"] == 5
    assert run["status"] == "degraded" and code == 3
    assert "pagination stopped after 5 listing pages" in run["message"]
