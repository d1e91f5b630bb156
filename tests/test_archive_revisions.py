"""Revisions, tombstones, re-checks, the frontier, locks and habits, on real SQLite files."""

from __future__ import annotations

import io
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import archive.storage as storage
from archive import (
    EXPORT_KEYS,
    GOLD_KEYS,
    Archive,
    ArchiveError,
    LockHeld,
    content_hash,
    export_jsonl,
    format_history,
    format_runs,
)
from tests.test_archive import ARTICLE, BASE, HTML, variant

REPO = Path(__file__).resolve().parent.parent


class Clock:
    """utc_now for tests: set to a time, then one second later at every call."""

    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)

    def set(self, text: str) -> None:
        self.moment = datetime.fromisoformat(text)

    def __call__(self) -> str:
        self.moment = self.moment.fromtimestamp(self.moment.timestamp() + 1, UTC)
        return self.moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(storage, "utc_now", fake)
    return fake


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "archive.sqlite"


@pytest.fixture
def arc(db_path: Path, clock: Clock) -> Iterator[Archive]:
    with Archive.open(db_path) as archive:
        archive.upsert_portal("anbien", "Cổng thông tin điện tử huyện An Biên", BASE)
        archive.upsert_portal("hailang", "Huyện Hải Lăng", "https://hailang.quangtri.gov.vn")
        yield archive


Store = Callable[..., storage.StoreResult]


@pytest.fixture
def store(arc: Archive) -> Store:
    def _store(
        article: dict[str, Any],
        raw_body: bytes = HTML,
        *,
        fetched_url: str | None = None,
        portal_id: str = "anbien",
        run_id: int | None = None,
        headers: dict[str, str] | None = None,
        parser_version: str = "test-1",
    ) -> storage.StoreResult:
        return arc.store_article(
            portal_id,
            article,
            fetched_url=fetched_url or article["url"],
            raw_body=raw_body,
            http_status=200,
            headers=headers if headers is not None else {"Content-Type": "text/html"},
            run_id=run_id,
            parser_version=parser_version,
        )

    return _store


def rows(db_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


EDITED = variant(
    title="HĐND huyện khai mạc kỳ họp thứ 13",
    body=[*ARTICLE["body"], "Kỳ họp sẽ kéo dài 2 ngày."],
    images=[*ARTICLE["images"], {"src": f"{BASE}/PublishingImages/d.jpg", "caption": "Đại biểu."}],
)


# --- revisions ----------------------------------------------------------------------


def test_each_content_change_is_a_numbered_revision_with_its_capture(
    arc: Archive, store: Store, db_path: Path
) -> None:
    run = arc.start_run("anbien", [], {})
    first = store(ARTICLE, run_id=run)
    same = store(ARTICLE, HTML + b"<!-- view counter 12 -->", run_id=run)
    edit = store(EDITED, b"<html>13</html>", run_id=run, parser_version="test-2")
    back = store(ARTICLE, run_id=run)

    assert (first.status, first.revision, first.returned) == ("new", 1, False)
    assert (same.status, same.revision) == ("unchanged", 1)
    assert same.capture_id is not None  # new raw body, same content: no revision
    assert (edit.status, edit.revision) == ("changed", 2)
    # Going back to earlier content is still a new version, its capture the first one.
    assert (back.status, back.revision, back.capture_id) == ("changed", 3, None)
    assert rows(
        db_path,
        "SELECT revision, reason, title, content_hash, capture_id, parser_version, run_id "
        "FROM article_revisions ORDER BY revision",
    ) == [
        (1, "new", ARTICLE["title"], content_hash(ARTICLE), first.capture_id, "test-1", run),
        (2, "edit", EDITED["title"], content_hash(EDITED), edit.capture_id, "test-2", run),
        (3, "edit", ARTICLE["title"], content_hash(ARTICLE), first.capture_id, "test-1", run),
    ]
    assert rows(db_path, "SELECT revision FROM articles") == [(3,)]

    history = arc.history(ARTICLE["url"])
    assert [h["revision"] for h in history] == [1, 2, 3]
    assert {key: history[1][key] for key in GOLD_KEYS} == EDITED
    assert {key: history[2][key] for key in GOLD_KEYS} == ARTICLE
    assert history[0]["observed_at"] < history[1]["observed_at"] < history[2]["observed_at"]
    captures = {c["id"]: c for c in arc.captures(first.article_id)}
    assert captures[history[1]["capture_id"]]["body"] == b"<html>13</html>"
    assert arc.history(f"{BASE}/nowhere") == []


def test_export_shows_the_current_version_and_its_revision_count(
    arc: Archive, store: Store
) -> None:
    store(ARTICLE)
    store(EDITED, b"<html>13</html>")
    store(variant(url=f"{BASE}/other", title="Bài khác"), b"other")

    out = io.StringIO()
    assert export_jsonl(arc, out) == 2
    lines = [storage.json.loads(line) for line in out.getvalue().splitlines()]
    assert [list(line) for line in lines] == [list(EXPORT_KEYS)] * 2
    assert EXPORT_KEYS[-4:] == ("revision", "removed_at", "observed_at", "current")
    edited = next(line for line in lines if line["url"] == ARTICLE["url"])
    assert {key: edited[key] for key in GOLD_KEYS} == EDITED
    assert (edited["revision"], edited["removed_at"]) == (2, None)
    assert next(line for line in lines if line["url"] != ARTICLE["url"])["revision"] == 1


def test_history_text_shows_what_changed(arc: Archive, store: Store) -> None:
    store(ARTICLE)
    store(EDITED, b"<html>13</html>")

    text = format_history(arc.history(ARTICLE["url"]))
    lines = text.splitlines()
    assert lines[0] == ARTICLE["url"]
    assert lines[1] == "2 revisions"
    assert lines[3].startswith("Revision 1 · 2026-11-27T12:00:")
    assert "· first seen · parser test-1 · capture 1 · hash " in lines[3]
    revision_2 = next(i for i, line in enumerate(lines) if line.startswith("Revision 2 "))
    assert "· edited ·" in lines[revision_2]
    assert lines[revision_2 + 1 :] == [
        "  title:",
        "    - HĐND huyện khai mạc kỳ họp thứ 12",
        "    + HĐND huyện khai mạc kỳ họp thứ 13",
        "  body:",
        "    @@ -2 +2,2 @@",
        "     Đoạn “thứ hai” – có dấu gạch.",
        "    +Kỳ họp sẽ kéo dài 2 ngày.",
        "  images:",
        f"    + {BASE}/PublishingImages/d.jpg (Đại biểu.)",
    ]
    assert format_history([]) == "No archived revisions."


# --- validators and re-checks ---------------------------------------------------------


def test_article_state_by_any_url_with_validators_from_headers(
    arc: Archive, store: Store, clock: Clock
) -> None:
    alias = f"{BASE}/Pages/ChiTietTinTuc.aspx?nid=1851&CateID=12"
    headers = {"etag": '"0x8D83"', "LAST-MODIFIED": "Mon, 03 Aug 2020 03:40:00 GMT"}
    result = store(ARTICLE, fetched_url=alias, headers=headers)

    state = arc.article_state(alias)
    assert state is not None
    assert state == arc.article_state(ARTICLE["url"])
    assert (state.article_id, state.portal_id, state.url) == (
        result.article_id,
        "anbien",
        ARTICLE["url"],
    )
    assert (state.etag, state.last_modified) == ('"0x8D83"', "Mon, 03 Aug 2020 03:40:00 GMT")
    assert (state.section, state.published) == (ARTICLE["section"], ARTICLE["published"])
    assert state.content_hash == content_hash(ARTICLE)
    assert state.removed_at is None
    assert state.last_seen_at == state.last_checked_at == "2026-11-27T12:00:01Z"
    assert arc.article_state(f"{BASE}/unknown") is None

    clock.set("2026-11-28T06:00:00+00:00")
    arc.touch_unchanged(alias, run_id=None)
    touched = arc.article_state(ARTICLE["url"])
    assert touched is not None
    assert touched.last_seen_at == touched.last_checked_at == "2026-11-28T06:00:01Z"
    assert touched.content_hash == state.content_hash
    assert (touched.etag, touched.revision) == (state.etag, 1)
    arc.touch_unchanged(f"{BASE}/unknown", run_id=None)  # ignored


def test_recheck_window_by_last_n_and_by_days(arc: Archive, store: Store) -> None:
    dates = ["2026-11-20T08:00:00+07:00", "2026-11-26", "2026-11-01T09:00:00+07:00", None]
    for i, published in enumerate(dates):
        store(variant(url=f"{BASE}/a/{i}", title=f"Bài {i}", published=published), b"%d" % i)
    store(variant(url=f"{BASE}/b/1", title="Khác", section="Tin tức - Sự kiện"), b"b")
    store(variant(url="https://hailang.quangtri.gov.vn/x", title="HL"), b"x", portal_id="hailang")
    now = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)

    section = "Hoạt động địa phương"
    assert arc.recheck_urls("anbien", section, last=2, days=None, now=now) == [
        f"{BASE}/a/1",
        f"{BASE}/a/0",
    ]
    # Seven days back from 27 Nov reaches 20 Nov, not 1 Nov; no duplicates in the union.
    assert arc.recheck_urls("anbien", section, last=1, days=7, now=now) == [
        f"{BASE}/a/1",
        f"{BASE}/a/0",
    ]
    assert arc.recheck_urls("anbien", section, last=10, days=None, now=now) == [
        f"{BASE}/a/1",
        f"{BASE}/a/0",
        f"{BASE}/a/2",
        f"{BASE}/a/3",  # no date: last
    ]
    assert arc.recheck_urls("anbien", None, last=0, days=1, now=now) == [f"{BASE}/a/1"]
    everything = arc.recheck_urls("anbien", None, last=100, days=None, now=now)
    assert f"{BASE}/b/1" in everything and len(everything) == 5

    arc.mark_removed("anbien", f"{BASE}/a/1", reason="HTTP 404", http_status=404, run_id=None)
    assert arc.recheck_urls("anbien", section, last=2, days=None, now=now) == [
        f"{BASE}/a/0",
        f"{BASE}/a/2",
    ]


# --- tombstones -------------------------------------------------------------------------


def test_removed_article_keeps_its_first_removal_time_and_stays_in_the_archive(
    arc: Archive, store: Store, db_path: Path, clock: Clock
) -> None:
    alias = f"{BASE}/Pages/ChiTietTinTuc.aspx?nid=1851&CateID=12"
    store(ARTICLE, fetched_url=alias)
    run = arc.start_run("anbien", [], {})

    clock.set("2026-12-01T00:00:00+00:00")
    assert arc.mark_removed("anbien", alias, reason="HTTP 404", http_status=404, run_id=run)
    clock.set("2026-12-02T00:00:00+00:00")
    again = arc.mark_removed(
        "anbien", ARTICLE["url"], reason="HTTP 410", http_status=410, run_id=run
    )
    assert again is False
    assert not arc.mark_removed("anbien", f"{BASE}/x", reason="HTTP 404", http_status=404, run_id=1)
    assert not arc.mark_removed("hailang", alias, reason="HTTP 404", http_status=404, run_id=None)

    state = arc.article_state(ARTICLE["url"])
    assert state is not None and state.removed_at == "2026-12-01T00:00:01Z"
    assert state.last_checked_at == "2026-12-02T00:00:01Z"
    assert rows(db_path, "SELECT kind, at, detail, http_status, run_id FROM article_events") == [
        ("removed", "2026-12-01T00:00:01Z", "HTTP 404", 404, run)
    ]
    (exported,) = arc.iter_articles()
    assert exported["removed_at"] == "2026-12-01T00:00:01Z"
    assert {key: exported[key] for key in GOLD_KEYS} == ARTICLE
    assert list(arc.iter_articles(include_removed=False)) == []
    out = io.StringIO()
    assert export_jsonl(arc, out, include_removed=False) == 0
    assert rows(db_path, "SELECT COUNT(*) FROM articles") == [(1,)]


def test_a_removed_article_that_returns_is_unmarked_and_the_return_recorded(
    arc: Archive, store: Store, db_path: Path, clock: Clock
) -> None:
    store(ARTICLE)
    clock.set("2026-12-01T00:00:00+00:00")
    arc.mark_removed("anbien", ARTICLE["url"], reason="HTTP 404", http_status=404, run_id=None)
    # The same story under another URL is not the removed page coming back.
    other = store(variant(url=f"{BASE}/copy"))
    assert (other.status, other.returned) == ("duplicate", False)
    assert arc.article_state(ARTICLE["url"]).removed_at is not None  # type: ignore[union-attr]

    clock.set("2026-12-05T00:00:00+00:00")
    back = store(EDITED, b"<html>13</html>")
    assert (back.status, back.returned, back.revision) == ("changed", True, 2)
    assert arc.article_state(ARTICLE["url"]).removed_at is None  # type: ignore[union-attr]
    assert rows(db_path, "SELECT kind, at, revision FROM article_events ORDER BY id") == [
        ("removed", "2026-12-01T00:00:01Z", 1),
        ("returned", "2026-12-05T00:00:01Z", 1),
    ]
    assert store(EDITED, b"<html>13</html>").returned is False

    history = arc.history(ARTICLE["url"])
    assert [e["kind"] for e in history[0]["events"]] == ["removed", "returned"]
    text = format_history(history)
    assert "Removed 2026-12-01T00:00:01Z · HTTP 404" in text
    assert "Returned 2026-12-05T00:00:01Z · reached again: HTTP 200" in text
    assert text.index("Returned") < text.index("Revision 2")

    # A 304 to a conditional request proves the page is there too.
    arc.mark_removed("anbien", ARTICLE["url"], reason="HTTP 404", http_status=404, run_id=None)
    arc.touch_unchanged(ARTICLE["url"], run_id=None)
    assert arc.article_state(ARTICLE["url"]).removed_at is None  # type: ignore[union-attr]
    assert rows(db_path, "SELECT kind FROM article_events ORDER BY id")[-1] == ("returned",)


# --- runs ---------------------------------------------------------------------------------


def test_runs_newest_first_with_message_removed_and_degraded(arc: Archive) -> None:
    first = arc.start_run("anbien", [], {})
    arc.finish_run(first, "finished", {"pages": 3, "requests": 17, "bytes": 123456, "new": 12})
    second = arc.start_run("anbien", [], {})
    message = "anbien: 40% of this run's articles have no publication date"
    arc.finish_run(second, "degraded", {"removed": 1, "unchanged": 9}, message=message)
    other = arc.start_run("hailang", [], {})

    runs = arc.runs()
    assert [r["id"] for r in runs] == [other, second, first]
    assert [r["id"] for r in arc.runs("anbien", limit=1)] == [second]
    assert (runs[1]["status"], runs[1]["removed"], runs[1]["message"]) == ("degraded", 1, message)
    assert runs[2]["message"] is None

    table = format_runs(runs).splitlines()
    assert table[0].split() == [
        "started",
        "(UTC)",
        "ended",
        "(UTC)",
        "portal",
        "status",
        "pages",
        "requests",
        "bytes",
        "new",
        "changed",
        "unchanged",
        "removed",
        "failed",
        "message",
    ]
    assert len(table) == 4
    assert table[1].split()[2:5] == ["-", "hailang", "running"]
    assert table[2].endswith(message)
    assert table[3].split()[4:] == ["anbien", "finished", "3", "17", "123", "kB", "12"] + ["0"] * 4
    # Fixed width: the status column starts at the same place on every line.
    statuses = ("status", "running", "degraded", "finished")
    assert len({line.index(s) for line, s in zip(table, statuses, strict=True)}) == 1
    assert format_runs([]) == "No crawl runs recorded."


# --- the frontier ---------------------------------------------------------------------------


def test_frontier_keeps_pending_urls_until_done(arc: Archive) -> None:
    run = arc.start_run("anbien", [], {})
    section = "Hoạt động địa phương"
    arc.frontier_add("anbien", run, [(f"{BASE}/a/1", section), (f"{BASE}/a/2", section)])
    arc.frontier_add(
        "anbien", run, [(f"{BASE}/a/2", "Khác"), (f"{BASE}/a/3", section), (f"{BASE}/a/3", "X")]
    )
    arc.frontier_add("hailang", run, [(f"{BASE}/a/1", "HL")])
    arc.frontier_add("anbien", run, [])

    assert arc.frontier_pending("anbien") == [
        (f"{BASE}/a/1", section),
        (f"{BASE}/a/2", section),  # the first sighting is kept
        (f"{BASE}/a/3", section),
    ]
    arc.frontier_done("anbien", f"{BASE}/a/2")
    arc.frontier_done("anbien", f"{BASE}/never-added")
    assert [url for url, _ in arc.frontier_pending("anbien")] == [f"{BASE}/a/1", f"{BASE}/a/3"]
    assert arc.frontier_pending("hailang") == [(f"{BASE}/a/1", "HL")]


# --- locks ------------------------------------------------------------------------------------


def test_a_live_lock_refuses_a_second_crawl_with_a_clear_message(
    arc: Archive, db_path: Path
) -> None:
    run = arc.start_run("anbien", [], {})
    arc.acquire_lock("anbien", run_id=run)
    with Archive.open(db_path) as other:
        second = other.start_run("anbien", [], {})
        with pytest.raises(LockHeld) as refused:
            other.acquire_lock("anbien", run_id=second)
        message = str(refused.value)
        assert "'anbien'" in message
        assert f"process {os.getpid()}" in message
        assert f"host {socket.gethostname()}" in message
        assert "since 2026-11-27T12:00:" in message
        assert isinstance(refused.value, ArchiveError)
        # Another portal is free; and a lock we do not hold is not ours to release.
        other.acquire_lock("hailang", run_id=second)
        other.release_lock("anbien")
        assert arc.lock_holder("anbien")["run_id"] == run  # type: ignore[index]

        arc.heartbeat("anbien")
        arc.release_lock("anbien")
        assert arc.lock_holder("anbien") is None
        other.acquire_lock("anbien", run_id=second)
        assert arc.lock_holder("anbien")["run_id"] == second  # type: ignore[index]
    # Closing an archive releases its locks.
    assert arc.lock_holder("anbien") is None
    assert arc.lock_holder("hailang") is None
    with pytest.raises(ArchiveError, match="does not hold the lock"):
        arc.heartbeat("anbien")


def test_a_lock_left_by_a_dead_process_is_taken_over_and_its_run_interrupted(
    arc: Archive, store: Store, db_path: Path
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed = arc.start_run("anbien", [], {})
    arc.acquire_lock("anbien", run_id=killed)
    store(ARTICLE, run_id=killed)
    store(variant(url=f"{BASE}/2", title="Hai"), b"2", run_id=killed)
    # As if that crawl had been another process, killed with SIGKILL.
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE crawl_locks SET pid = ?", (dead.pid,))

    with Archive.open(db_path) as next_crawl:
        run = next_crawl.start_run("anbien", [], {})
        next_crawl.acquire_lock("anbien", run_id=run)
        assert next_crawl.lock_holder("anbien") == {
            "portal": "anbien",
            "run_id": run,
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "acquired_at": next_crawl.lock_holder("anbien")["acquired_at"],  # type: ignore[index]
            "heartbeat_at": next_crawl.lock_holder("anbien")["heartbeat_at"],  # type: ignore[index]
        }
        assert next_crawl.interrupt_stale_runs("anbien") == 1
        assert next_crawl.interrupt_stale_runs("anbien") == 0
        by_id = {r["id"]: r for r in next_crawl.runs("anbien")}
        assert by_id[run]["status"] == "running"
        assert by_id[killed]["status"] == "interrupted"
        assert by_id[killed]["new"] == 2  # counted from what it stored
        assert "ended without finishing" in by_id[killed]["message"]
        # The old holder has lost its lock and is told so.
        with pytest.raises(LockHeld):
            arc.heartbeat("anbien")


def test_a_lock_whose_heartbeat_is_too_old_is_stale(
    arc: Archive, db_path: Path, clock: Clock
) -> None:
    run = arc.start_run("anbien", [], {})
    arc.acquire_lock("anbien", run_id=run)
    # A holder on another host: its pid cannot be checked, only its heartbeat.
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE crawl_locks SET hostname = 'crawler-2', pid = 4242")

    with Archive.open(db_path) as other:
        second = other.start_run("anbien", [], {})
        clock.set("2026-11-27T12:10:00+00:00")
        with pytest.raises(LockHeld, match="process 4242 on host crawler-2"):
            other.acquire_lock("anbien", run_id=second)
        clock.set("2026-11-27T12:20:00+00:00")
        with pytest.raises(LockHeld):
            other.acquire_lock("anbien", run_id=second, stale_after=3600.0)
        other.acquire_lock("anbien", run_id=second)  # 20 minutes > 900 s
        assert other.lock_holder("anbien")["hostname"] == socket.gethostname()  # type: ignore[index]


WRITER = textwrap.dedent(
    """
    import sys
    from archive import Archive

    db, portal, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with Archive.open(db) as arc:
        arc.upsert_portal(portal, portal, f"https://{portal}.gov.vn")
        run = arc.start_run(portal, [], {})
        arc.acquire_lock(portal, run_id=run)
        arc.interrupt_stale_runs(portal)
        for i in range(count):
            url = f"https://{portal}.gov.vn/a/{i}"
            arc.frontier_add(portal, run, [(url, "S")])
            arc.store_article(
                portal,
                {"url": url, "title": f"{portal} {i}", "published": "2026-01-01",
                 "body": [f"Đoạn {i} của {portal}."]},
                fetched_url=url, raw_body=url.encode(), http_status=200,
                headers={}, run_id=run, parser_version="t",
            )
            arc.frontier_done(portal, url)
            arc.heartbeat(portal)
        arc.finish_run(run, "finished", {"new": count})
        arc.release_lock(portal)
    """
)


def test_two_processes_write_different_portals_at_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), portal, "40"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for portal in ("anbien", "hailang")
    ]
    results = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err

    with Archive.open(db) as arc:
        assert arc.count_articles("anbien") == arc.count_articles("hailang") == 40
        assert {(r["portal"], r["status"], r["new"]) for r in arc.runs()} == {
            ("anbien", "finished", 40),
            ("hailang", "finished", 40),
        }
        assert arc.frontier_pending("anbien") == arc.frontier_pending("hailang") == []
        assert arc.lock_holder("anbien") is None and arc.lock_holder("hailang") is None
    assert rows(db, "SELECT COUNT(*) FROM article_revisions") == [(80,)]


# --- habits for alarms ---------------------------------------------------------------------


def test_field_presence_over_the_history_before_a_run(arc: Archive, store: Store) -> None:
    old = arc.start_run("anbien", [], {})
    for i in range(4):
        store(variant(url=f"{BASE}/a/{i}", title=f"Bài {i}"), b"%d" % i, run_id=old)
    store(
        variant(url=f"{BASE}/a/4", title="Bốn", published="2026-01-01", credit=None, images=[]),
        b"4",
        run_id=old,
    )
    store(variant(url="https://hailang.quangtri.gov.vn/1", lead=None), b"h", portal_id="hailang")
    current = arc.start_run("anbien", [], {})
    for i in range(5, 8):  # this run's articles have no dates at all
        store(
            variant(url=f"{BASE}/a/{i}", title=f"B{i}", published=None), b"%d" % i, run_id=current
        )

    count, presence = arc.field_presence("anbien", exclude_run=current)
    assert count == 5
    assert presence == {
        "published": 1.0,
        "published_time": 0.8,
        "lead": 1.0,
        "credit": 0.8,
        "images": 0.8,
        "body": 1.0,
    }
    count, presence = arc.field_presence("anbien", last=3)
    assert (count, presence["published"]) == (3, 0.0)  # the newest three are this run's
    count, presence = arc.field_presence("anbien", last=4, exclude_run=current)
    assert (count, presence["credit"]) == (4, 0.75)
    assert arc.field_presence("nowhere") == (0, dict.fromkeys(presence, 0.0))


def test_discovery_gap_from_runs_that_found_new_articles(
    arc: Archive, store: Store, clock: Clock
) -> None:
    now = datetime(2026, 12, 20, 0, 0, tzinfo=UTC)
    assert arc.discovery_gap("anbien", now=now) == (None, None)

    def run(day: int, new: int) -> None:
        clock.set(f"2026-12-{day:02d}T00:00:00+00:00")
        run_id = arc.start_run("anbien", [], {})
        arc.finish_run(run_id, "finished", {"new": new})

    run(1, 30)  # the first run: the back catalogue, not a gap
    run(2, 1)
    assert arc.discovery_gap("anbien", now=now) == (None, 18 * 86400.0 - 1)
    run(3, 0)
    run(4, 2)
    # A killed run reports nothing, but what it stored counts.
    clock.set("2026-12-10T00:00:00+00:00")
    killed = arc.start_run("anbien", [], {})
    store(ARTICLE, run_id=killed)
    run(12, 0)

    typical, since = arc.discovery_gap("anbien", now=now)
    # Runs that found something: 2, 4 and 10 December; gaps 2 and 6 days.
    assert typical == 4 * 86400.0
    assert since == 10 * 86400.0 - 1
    assert arc.discovery_gap("hailang", now=now) == (None, None)
