"""Incremental crawls: the later state of every snapshot, revisions, tombstones, alarms."""

from __future__ import annotations

import shutil

import pytest

from archive import Archive, read_jsonl
from portal_crawler.replay import ReplayServer
from tests.crawl_helpers import crawl, portal_archive, summaries
from tests.helpers import FIXTURES_DIR, SNAPSHOT_IDS, load_gold, load_site

TARGET = "Hoạt động địa phương"
GOLD_KEYS = (
    "url",
    "section",
    "title",
    "published",
    "lead",
    "body",
    "images",
    "credit",
    "attachments",
)


def _target(gold: dict[str, dict]) -> dict[str, dict]:
    return {slug: g for slug, g in gold.items() if g["section"] == TARGET}


@pytest.mark.parametrize("portal_id", SNAPSHOT_IDS)
def test_later_state_records_exactly_what_changed(portal_id, replay, tmp_path):
    later = load_site(portal_id)["later"]
    before, after = _target(load_gold(portal_id)), _target(load_gold(portal_id, later=True))
    server = replay(portal_id)
    db = tmp_path / "archive.sqlite"
    crawl(db, portal_id, mirror=server.origin)

    server.switch_state("later")
    server.clear_requests()
    run = summaries(crawl(db, portal_id, mirror=server.origin))[0]
    requests = len(server.requests)

    new = {s for s in later["new"] if s in after}
    changed = {s for s in later["changed"] if s in after}
    removed = {s for s in later["removed"] if s in before}
    assert (run["new"], run["changed"], run["removed"]) == (len(new), len(changed), len(removed))
    assert run["status"] == "finished"
    # Requests: robots.txt, the listing pages walked, the new articles, the re-check
    # window, retries of 5xx answers, and the new articles' images and attachments.
    budget = 1 + run["pages"] + run["new"] + run["rechecked"] + run["retries"]
    budget += run["media_requests"]
    assert requests <= budget, (requests, run)
    print(
        f"{portal_id}: {requests} requests <= {budget} = robots.txt + {run['pages']} listing "
        f"pages + {run['new']} new + {run['rechecked']} re-checked + {run['retries']} retries "
        f"+ {run['media_requests']} media of the new articles"
    )

    with Archive.open(db) as archive:
        stored = {a["url"]: a for a in archive.iter_articles(portal_id)}
    by_slug = {slug: stored[g["url"]] for slug, g in {**before, **after}.items()}
    for slug, row in by_slug.items():
        current = after.get(slug) or before[slug]
        assert {k: row[k] for k in GOLD_KEYS} == current, slug
        assert (row["removed_at"] is not None) == (slug in removed), slug
        assert row["revision"] == (2 if slug in changed else 1), slug
    assert len(stored) == len(by_slug)


def test_history_runs_and_export_show_revisions_and_tombstones(replay, tmp_path):
    server = replay("anbien")
    db = tmp_path / "archive.sqlite"
    crawl(db, "anbien", mirror=server.origin)
    server.switch_state("later")
    crawl(db, "anbien", mirror=server.origin)

    changed = load_gold("anbien", later=True)["1851-hdnd-huyen-khai-mac-ky-hop-thu-13"]
    history = portal_archive("history", changed["url"], "--db", str(db)).stdout
    assert "kỳ họp thứ 12" in history and "kỳ họp thứ 13" in history
    assert "Revision 1" in history and "Revision 2" in history

    runs = portal_archive("runs", "--db", str(db), "--portal", "anbien").stdout
    assert runs.count("finished") == 2

    out = tmp_path / "export.jsonl"
    portal_archive("export", "--db", str(db), "--include-removed", "-o", str(out))
    rows = {row["url"]: row for row in read_jsonl(out)}
    assert rows[changed["url"]]["revision"] == 2
    gone = load_gold("anbien")["1760-tong-ket-cong-tac-dan-so-khhgd-2019"]["url"]
    assert rows[gone]["removed_at"] is not None


def test_full_pass_refetches_everything_and_changes_nothing(replay, tmp_path):
    server = replay("tanthanh")
    db = tmp_path / "archive.sqlite"
    crawl(db, "tanthanh", mirror=server.origin)
    run = summaries(crawl(db, "tanthanh", "--full", mirror=server.origin))[0]
    assert run["new"] == 0 and run["changed"] == 0
    assert run["unchanged"] == len(_target(load_gold("tanthanh")))
    assert run["pages"] == 3


def _broken_copy(tmp_path, portal_id: str, replace: dict[str, tuple[bytes, bytes]]):
    copy = tmp_path / portal_id
    shutil.copytree(FIXTURES_DIR / portal_id, copy)
    for name, (old, new) in replace.items():
        page = copy / "pages" / name
        data = page.read_bytes()
        assert old in data, f"{name} has no {old!r}"
        page.write_bytes(data.replace(old, new))
    return copy


def test_a_listing_without_article_links_ends_degraded(tmp_path):
    # A redesign turned the listing into script-driven cards: no link at all.
    broken = _broken_copy(
        tmp_path, "tanthanh", {"hoat-dong-dia-phuong-page-1.html": (b"href=", b"data-href=")}
    )
    with ReplayServer(broken) as server:
        result = crawl(tmp_path / "a.sqlite", "tanthanh", mirror=server.origin, check=False)
    assert result.returncode == 3, result.stderr[-2000:]
    run = summaries(result)[0]
    assert run["status"] == "degraded"
    assert "tanthanh" in run["message"] and "no article links" in run["message"]
    with Archive.open(tmp_path / "a.sqlite") as archive:
        assert archive.runs("tanthanh")[0]["status"] == "degraded"


def test_a_listing_that_lost_most_of_its_entries_ends_degraded(replay, tmp_path):
    db = tmp_path / "archive.sqlite"
    crawl(db, "tanthanh", mirror=replay("tanthanh").origin)
    # The listing's own entries no longer match; only sidebar links are left.
    broken = _broken_copy(
        tmp_path,
        "tanthanh",
        {
            "hoat-dong-dia-phuong-page-1.html": (
                b'href="/vi/news/hoat-dong-dia-phuong/',
                b'data-x="',
            )
        },
    )
    with ReplayServer(broken) as server:
        result = crawl(db, "tanthanh", mirror=server.origin, check=False)
    assert result.returncode == 3, result.stdout + result.stderr[-2000:]
    message = summaries(result)[0]["message"]
    assert "tanthanh" in message and "(usually 4)" in message


def test_articles_suddenly_without_dates_end_degraded(replay, tmp_path):
    db = tmp_path / "archive.sqlite"
    server = replay("hailang")
    crawl(db, "hailang", mirror=server.origin)
    # The portal's new template drops the date line from every article.
    copy = tmp_path / "hailang"
    shutil.copytree(FIXTURES_DIR / "hailang", copy)
    for page in (copy / "pages").glob("article-*.html"):
        text = page.read_text(encoding="utf-8")
        page.write_text(_without_dates(text), encoding="utf-8")
    with ReplayServer(copy) as broken:
        result = crawl(db, "hailang", "--full", mirror=broken.origin, check=False)
    assert result.returncode == 3, result.stdout + result.stderr[-2000:]
    message = summaries(result)[0]["message"]
    assert "hailang" in message and "date" in message


def _without_dates(html: str) -> str:
    import re

    return re.sub(r"\d{1,2}/\d{1,2}/\d{4}( \d{1,2}:\d{2})?", "", html)


def test_partial_failure_exit_code(tmp_path):
    from tests.snapshot_builder import article_page, listing_page, make_snapshot

    text = (
        "Sáng ngày 3/8, UBND xã tổ chức hội nghị tổng kết công tác dân vận năm 2020 với sự "
        "tham dự của đại diện các ban, ngành, đoàn thể và nhân dân trên địa bàn xã."
    )
    snapshot = make_snapshot(
        tmp_path / "xa",
        [
            {"path": "/robots.txt", "headers": {"Content-Type": "text/plain"}, "text": ""},
            {
                "path": "/tin-tuc",
                "text": listing_page(
                    [
                        ("/tin/a-1.html", "Xã tổng kết công tác dân vận năm 2020 thành công"),
                        ("/tin/b-2.html", "Máy chủ quá tải khi mở bài viết này hôm nay"),
                    ]
                ),
            },
            {
                "path": "/tin/a-1.html",
                "text": article_page(
                    "Xã tổng kết công tác dân vận năm 2020 thành công",
                    "(10:40 | 03/08/2020)",
                    [text, text + " Đoạn hai."],
                ),
            },
            {
                "path": "/tin/b-2.html",
                "status": 503,
                "times": 100,
                "text": "busy",
                "then": {"status": 200},
            },
        ],
    )
    with ReplayServer(snapshot) as server:
        result = portal_archive(
            "crawl",
            "--url",
            server.origin + "/tin-tuc",
            "--db",
            str(tmp_path / "x.sqlite"),
            "--json",
            "-s",
            "DOWNLOAD_DELAY=0",
            "-s",
            "AUTOTHROTTLE_ENABLED=False",
            "-s",
            "PORTAL_RETRY_BACKOFF_BASE=0",
            check=False,
        )
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    run = summaries(result)[0]
    assert (run["new"], run["failed"], run["failed_transient"]) == (1, 1, 1)


def _redirecting_portal(tmp_path, *, listing_status: int = 200):
    from tests.snapshot_builder import article_page, listing_page, make_snapshot

    title = "Xã tổng kết công tác dân vận năm 2020 thành công tốt đẹp"
    text = (
        "Sáng ngày 3/8, UBND xã tổ chức hội nghị tổng kết công tác dân vận năm 2020 với sự "
        "tham dự của đại diện các ban, ngành, đoàn thể và nhân dân trên địa bàn xã."
    )
    listing = {"path": "/tin-tuc", "status": listing_status}
    if listing_status == 200:
        listing["text"] = listing_page([("/tin.aspx?id=1", title)])
    return make_snapshot(
        tmp_path / "xa",
        [
            {"path": "/robots.txt", "headers": {"Content-Type": "text/plain"}, "text": ""},
            listing,
            # The listing links an old address that redirects to the article's own.
            {"path": "/tin.aspx?id=1", "status": 301, "headers": {"Location": "/tin/bai-1.html"}},
            {
                "path": "/tin/bai-1.html",
                "text": article_page(title, "(10:40 | 03/08/2020)", [text, text + " Đoạn hai."]),
            },
        ],
    )


def test_a_listing_link_that_redirects_is_known_on_the_next_run(tmp_path):
    snapshot = _redirecting_portal(tmp_path)
    db = tmp_path / "archive.sqlite"
    with ReplayServer(snapshot) as server:
        listing = server.origin + "/tin-tuc"
        first = summaries(crawl(db, "--url", listing, mirror=server.origin))[0]
        server.clear_requests()
        second = summaries(
            crawl(
                db,
                "--url",
                listing,
                "--recheck-last",
                "0",
                "--recheck-days",
                "0",
                mirror=server.origin,
            )
        )[0]
        asked = [path for _, path, _ in server.requests]
    assert first["new"] == 1
    assert second["new"] == 0
    assert "/tin.aspx?id=1" not in asked  # the old address is remembered as the article's
    with Archive.open(db) as archive:
        assert archive.frontier_pending(archive.runs()[0]["portal"]) == []


def test_a_listing_that_cannot_be_read_ends_degraded(tmp_path):
    snapshot = _redirecting_portal(tmp_path, listing_status=404)
    with ReplayServer(snapshot) as server:
        result = crawl(
            tmp_path / "a.sqlite",
            "--url",
            server.origin + "/tin-tuc",
            mirror=server.origin,
            check=False,
        )
    assert result.returncode == 3, result.stdout + result.stderr[-2000:]
    run = summaries(result)[0]
    assert "could not be read" in run["message"] and "HTTP 404" in run["message"]
