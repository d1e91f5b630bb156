"""The archive package against real SQLite files."""

from __future__ import annotations

import copy
import hashlib
import json
import sqlite3
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import archive.storage as storage
from archive import (
    EXPORT_KEYS,
    GOLD_KEYS,
    SCHEMA_VERSION,
    Archive,
    ArchiveError,
    content_hash,
    default_db_path,
    export_jsonl,
    read_jsonl,
)

FIXTURES = Path(__file__).parent / "fixtures" / "portals"
BASE = "https://anbien.kiengiang.gov.vn"
HTML = "<html><body><h1>Nam Du tổng kết</h1></body></html>".encode()

ARTICLE: dict[str, Any] = {
    "url": f"{BASE}/Trang/ChiTietTinTuc.aspx?nid=1851&CateID=12",
    "section": "Hoạt động địa phương",
    "title": "HĐND huyện khai mạc kỳ họp thứ 12",
    "published": "2020-08-03T10:40:00+07:00",
    "lead": "Sáng 03/8, HĐND huyện An Biên khai mạc kỳ họp thứ 12.",
    "body": ["Đoạn thứ nhất của bài viết.", "Đoạn “thứ hai” – có dấu gạch."],
    "images": [
        {"src": f"{BASE}/PublishingImages/a%20b.jpg", "caption": "Quang cảnh kỳ họp."},
        {"src": f"{BASE}/PublishingImages/c.jpg", "caption": None},
    ],
    "credit": {
        "raw": "Tin và ảnh: Quốc Vương",
        "text_by": ["Quốc Vương"],
        "photo_by": ["Quốc Vương"],
        "source": None,
    },
    "attachments": [{"url": f"{BASE}/Lists/TinTuc/Attachments/1/kh.pdf", "name": "Kế hoạch số 12"}],
}


class Clock:
    """A deterministic stand-in for utc_now: one second later at every call."""

    def __init__(self) -> None:
        self.ticks = 0

    def __call__(self) -> str:
        self.ticks += 1
        return f"2026-11-27T12:00:{self.ticks:02d}Z"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(storage, "utc_now", fake)
    return fake


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "archive.sqlite"


@pytest.fixture
def arc(db_path: Path, clock: Clock) -> Iterator[Archive]:
    with Archive.open(db_path) as archive:
        archive.upsert_portal("anbien", "Cổng thông tin điện tử huyện An Biên", BASE, cms="SP")
        archive.upsert_portal("hailang", "Huyện Hải Lăng", "https://hailang.quangtri.gov.vn")
        yield archive


Store = Callable[..., storage.StoreResult]


@pytest.fixture
def store(arc: Archive) -> Store:
    def _store(
        article: dict[str, Any],
        fetched_url: str | None = None,
        raw_body: bytes = HTML,
        portal_id: str = "anbien",
        run_id: int | None = None,
    ) -> storage.StoreResult:
        return arc.store_article(
            portal_id,
            article,
            fetched_url=fetched_url or article["url"],
            raw_body=raw_body,
            http_status=200,
            headers={"Content-Type": "text/html; charset=utf-8", "Server": "IIS"},
            run_id=run_id,
            parser_version="test-1",
        )

    return _store


def rows(db_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(sql, params).fetchall()


def variant(**changes: Any) -> dict[str, Any]:
    article = copy.deepcopy(ARTICLE)
    article.update(changes)
    return article


# --- deduplication ----------------------------------------------------------


def test_new_article_is_stored_with_all_its_parts(
    arc: Archive, store: Store, db_path: Path
) -> None:
    result = store(ARTICLE)

    assert result.status == "new"
    assert arc.count_articles() == 1
    assert arc.count_articles("anbien") == 1
    assert arc.count_articles("hailang") == 0
    (stored,) = arc.iter_articles()
    assert {key: stored[key] for key in GOLD_KEYS} == ARTICLE
    assert stored["portal"] == "anbien"
    assert stored["content_hash"] == content_hash(ARTICLE)
    assert stored["first_seen_at"] == stored["last_seen_at"]
    assert rows(db_path, "SELECT position, src FROM images ORDER BY position") == [
        (0, ARTICLE["images"][0]["src"]),
        (1, ARTICLE["images"][1]["src"]),
    ]
    assert rows(db_path, "SELECT published_date, parser_version FROM articles") == [
        ("2020-08-03", "test-1")
    ]
    assert rows(db_path, "SELECT first_crawled_at FROM portals WHERE id='anbien'") == [
        ("2026-11-27T12:00:01Z",)
    ]


def test_same_url_again_is_unchanged_and_only_touches_last_seen(
    arc: Archive, store: Store, db_path: Path
) -> None:
    first = store(ARTICLE)
    again = store(ARTICLE)

    assert again.status == "unchanged"
    assert again.article_id == first.article_id
    assert again.capture_id is None
    (stored,) = arc.iter_articles()
    assert stored["first_seen_at"] == "2026-11-27T12:00:01Z"
    assert stored["last_seen_at"] == "2026-11-27T12:00:02Z"
    assert rows(db_path, "SELECT COUNT(*) FROM captures") == [(1,)]


def test_known_alias_url_finds_the_same_article(arc: Archive, store: Store) -> None:
    old_path = f"{BASE}/Pages/ChiTietTinTuc.aspx?nid=1851&CateID=12"
    first = store(ARTICLE, fetched_url=old_path)
    # Reached later through the old URL alone, with a page that changed around the article.
    again = store(variant(url=old_path), fetched_url=old_path, raw_body=HTML + b"<!-- x -->")

    assert again.status == "unchanged"
    assert again.article_id == first.article_id
    assert arc.is_known_url(ARTICLE["url"])
    assert arc.is_known_url(old_path)
    assert not arc.is_known_url(f"{BASE}/Trang/ChiTietTinTuc.aspx?nid=9999")
    # A different raw body is a new capture even when the article is unchanged.
    assert again.capture_id is not None
    assert len(arc.captures(first.article_id)) == 2


def test_same_content_from_another_url_is_a_duplicate_alias(
    arc: Archive, store: Store, db_path: Path
) -> None:
    first = store(ARTICLE)
    other_url = f"{BASE}/Trang/ChiTietTinTuc.aspx?nid=1851&CateID=5"
    dup = store(variant(url=other_url, section="Tin tức - Sự kiện"))

    assert dup.status == "duplicate"
    assert dup.article_id == first.article_id
    assert dup.capture_id is None  # identical raw body
    assert arc.count_articles() == 1
    assert arc.is_known_url(other_url)
    assert rows(db_path, "SELECT url FROM article_urls WHERE article_id=? ORDER BY url", 1) == [
        (ARTICLE["url"],),
        (other_url,),
    ]
    # The canonical URL and the section stay those of the first sighting.
    (stored,) = arc.iter_articles()
    assert stored["url"] == ARTICLE["url"]
    assert stored["section"] == ARTICLE["section"]
    assert store(variant(url=other_url)).status == "unchanged"


def test_same_content_on_another_portal_is_a_new_article(arc: Archive, store: Store) -> None:
    store(ARTICLE)
    result = store(variant(url="https://hailang.quangtri.gov.vn/a/1"), portal_id="hailang")

    assert result.status == "new"
    assert arc.count_articles() == 2


def test_changed_content_updates_the_row_and_keeps_both_captures(
    arc: Archive, store: Store, db_path: Path
) -> None:
    first = store(ARTICLE)
    edited = variant(
        title="HĐND huyện khai mạc kỳ họp thứ 13",
        body=["Đoạn thứ nhất của bài viết.", "Đoạn kết mới."],
        images=[{"src": f"{BASE}/PublishingImages/d.jpg", "caption": "Ảnh mới."}],
        attachments=[],
        credit=None,
    )
    later_html = HTML.replace(b"</h1>", b" 13</h1>")
    result = store(edited, raw_body=later_html)

    assert result.status == "changed"
    assert result.article_id == first.article_id
    (stored,) = arc.iter_articles()
    assert {key: stored[key] for key in GOLD_KEYS} == edited
    assert stored["content_hash"] == content_hash(edited) != content_hash(ARTICLE)
    assert rows(db_path, "SELECT COUNT(*) FROM images") == [(1,)]
    assert rows(db_path, "SELECT COUNT(*) FROM attachments") == [(0,)]
    assert rows(db_path, "SELECT credit IS NULL FROM articles") == [(1,)]
    captures = arc.captures(first.article_id)
    assert [c["body"] for c in captures] == [HTML, later_html]
    assert [c["content_hash"] for c in captures] == [content_hash(ARTICLE), content_hash(edited)]


def test_content_hash_ignores_place_time_and_spacing_but_not_content() -> None:
    digest = content_hash(ARTICLE)
    assert len(digest) == 64
    assert content_hash(variant(url="https://x/1", section="Khác")) == digest
    decomposed = unicodedata.normalize("NFD", ARTICLE["title"])
    assert content_hash(variant(title=f"  {decomposed}\u00a0 ")) == digest
    assert content_hash(variant(body=[*ARTICLE["body"], "Thêm."])) != digest
    assert content_hash(variant(published="2020-08-03")) != digest
    assert content_hash(variant(images=[])) != digest
    assert content_hash(variant(credit=None)) != digest


# --- raw captures and SQLite settings -----------------------------------------


def test_capture_is_compressed_and_decompresses_to_the_original(
    arc: Archive, store: Store, db_path: Path
) -> None:
    raw = HTML * 50
    result = store(ARTICLE, fetched_url="http://127.0.0.1:8080/Trang/x", raw_body=raw)

    ((blob, sha, compression, url, status, headers, ctype),) = rows(
        db_path,
        "SELECT body, body_sha256, compression, url, http_status, headers, content_type "
        "FROM captures",
    )
    assert compression == "zlib"
    assert len(blob) < len(raw)
    assert zlib.decompress(blob) == raw
    assert sha == hashlib.sha256(raw).hexdigest()
    assert (url, status, ctype) == (
        "http://127.0.0.1:8080/Trang/x",
        200,
        "text/html; charset=utf-8",
    )
    assert json.loads(headers)["Server"] == "IIS"
    assert arc.captures(result.article_id)[0]["body"] == raw


def test_sqlite_runs_in_wal_mode_with_foreign_keys(arc: Archive, db_path: Path) -> None:
    assert rows(db_path, "PRAGMA journal_mode") == [("wal",)]
    with arc.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    assert rows(db_path, "SELECT value FROM meta WHERE key='schema_version'") == [
        (str(SCHEMA_VERSION),)
    ]


def test_sqlalchemy_url_is_accepted_and_reopening_keeps_data(db_path: Path, clock: Clock) -> None:
    with Archive.open(f"sqlite:///{db_path}") as first:
        first.upsert_portal("anbien", "An Biên", BASE)
        first.store_article(
            "anbien",
            ARTICLE,
            fetched_url=ARTICLE["url"],
            raw_body=HTML,
            http_status=200,
            headers={},
            run_id=None,
            parser_version="1",
        )
    with Archive.open(str(db_path)) as again:
        assert again.count_articles() == 1
        assert again.is_known_url(ARTICLE["url"])


def test_newer_schema_version_is_refused(db_path: Path) -> None:
    Archive.open(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    with pytest.raises(ArchiveError, match="schema version 999"):
        Archive.open(db_path)


def test_unknown_portal_is_refused(arc: Archive, store: Store) -> None:
    with pytest.raises(ArchiveError, match="unknown portal 'nowhere'"):
        store(ARTICLE, portal_id="nowhere")
    assert arc.count_articles() == 0


def test_a_failure_mid_store_leaves_no_partial_article(
    arc: Archive, store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(data: bytes) -> bytes:
        raise RuntimeError("disk on fire")

    # The article, its URLs and images are flushed before the capture is compressed.
    monkeypatch.setattr(storage, "compress", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store(ARTICLE)

    for table in ("articles", "article_urls", "images", "attachments", "captures"):
        assert rows(db_path, f"SELECT COUNT(*) FROM {table}") == [(0,)], table
    assert not arc.is_known_url(ARTICLE["url"])
    monkeypatch.undo()
    assert store(ARTICLE).status == "new"


def test_a_failed_change_keeps_the_previous_version(
    arc: Archive, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(ARTICLE)
    monkeypatch.setattr(storage, "compress", lambda data: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        store(variant(title="Khác", images=[]), raw_body=b"other")

    (stored,) = arc.iter_articles()
    assert {key: stored[key] for key in GOLD_KEYS} == ARTICLE


# --- runs and failures ----------------------------------------------------------


def test_runs_and_failures_are_recorded(arc: Archive, store: Store) -> None:
    run_id = arc.start_run("anbien", ["Hoạt động địa phương"], {"max_pages": 3})
    assert arc.runs("anbien")[0]["status"] == "running"
    store(ARTICLE, run_id=run_id)
    arc.record_failure("anbien", f"{BASE}/x?nid=1809", "HTTP 404", run_id=run_id, http_status=404)
    arc.record_failure("anbien", f"{BASE}/x?nid=1", "no title")
    arc.finish_run(
        run_id,
        "finished",
        {"pages": 3, "requests": 17, "bytes": 123456, "new": 1, "failed": 1, "retries": 2},
    )

    (run,) = arc.runs("anbien")
    assert run["id"] == run_id
    assert run["status"] == "finished"
    assert run["sections"] == ["Hoạt động địa phương"]
    assert run["args"] == {"max_pages": 3}
    assert (run["pages"], run["requests"], run["bytes"], run["new"], run["failed"]) == (
        3,
        17,
        123456,
        1,
        1,
    )
    assert run["unchanged"] == run["duplicates"] == run["changed"] == 0
    assert run["extra_stats"] == {"retries": 2}
    assert run["started_at"] < run["finished_at"]
    assert run["finished_at"].endswith("Z")
    assert arc.runs("hailang") == []

    in_run = arc.failures(run_id)
    assert [(f["url"], f["reason"], f["http_status"]) for f in in_run] == [
        (f"{BASE}/x?nid=1809", "HTTP 404", 404)
    ]
    assert [f["reason"] for f in arc.failures()] == ["HTTP 404", "no title"]
    assert arc.failures()[1]["run_id"] is None
    assert arc.captures(1)[0]["run_id"] == run_id


def test_invalid_run_status_and_unknown_run_are_refused(arc: Archive) -> None:
    run_id = arc.start_run("anbien", [], {})
    with pytest.raises(ArchiveError, match="run status"):
        arc.finish_run(run_id, "done", {})
    with pytest.raises(ArchiveError, match="no crawl run"):
        arc.finish_run(run_id + 1, "failed", {})
    arc.finish_run(run_id, "interrupted", {})
    assert arc.runs()[0]["status"] == "interrupted"


# --- reading and export ---------------------------------------------------------


def test_export_round_trip_keeps_vietnamese_text_intact(
    arc: Archive, store: Store, tmp_path: Path
) -> None:
    decomposed = variant(
        url=f"{BASE}/Trang/ChiTietTinTuc.aspx?nid=1797&CateID=12",
        title=unicodedata.normalize("NFD", "Nam Thái A chủ động ứng phó hạn mặn"),
        published="2020-03-01",
        lead=None,
        body=[unicodedata.normalize("NFD", "Người dân Nam Thái A trữ nước ngọt.")],
        images=[],
        credit=None,
        attachments=[],
    )
    store(ARTICLE)
    store(decomposed)

    out = tmp_path / "export.jsonl"
    with out.open("w", encoding="utf-8") as handle:
        assert export_jsonl(arc, handle) == 2

    text = out.read_text(encoding="utf-8")
    assert "HĐND huyện khai mạc" in text  # ensure_ascii=False: no \\u escapes
    assert "\\u" not in text
    exported = read_jsonl(out)
    assert exported == list(arc.iter_articles())
    assert [list(line) for line in exported] == [list(EXPORT_KEYS)] * 2
    # Ordered by published: the March article first.
    nfc = {key: exported[0][key] for key in GOLD_KEYS}
    assert nfc["title"] == "Nam Thái A chủ động ứng phó hạn mặn"
    assert unicodedata.is_normalized("NFC", nfc["title"])
    assert nfc["body"] == ["Người dân Nam Thái A trữ nước ngọt."]
    assert {key: exported[1][key] for key in GOLD_KEYS} == ARTICLE


def test_export_of_real_gold_articles_round_trips(
    arc: Archive, store: Store, tmp_path: Path
) -> None:
    gold = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(FIXTURES.glob("*/gold/*.json"))
    ]
    if not gold:
        pytest.skip("no gold fixtures")
    for article in gold:
        assert store(article, raw_body=article["url"].encode()).status == "new"

    out = tmp_path / "gold.jsonl"
    with out.open("w", encoding="utf-8") as handle:
        assert export_jsonl(arc, handle, portal_id="anbien") == arc.count_articles()
    exported = {line["url"]: {k: line[k] for k in GOLD_KEYS} for line in read_jsonl(out)}
    assert exported == {article["url"]: article for article in gold}


def test_since_filters_on_the_local_publication_date(
    arc: Archive, store: Store, tmp_path: Path
) -> None:
    dates = ["2020-08-03T10:40:00+07:00", "2020-08-02T23:59:00+07:00", "2020-08-03", "2021-01-01"]
    for i, published in enumerate(dates):
        store(variant(url=f"{BASE}/a/{i}", published=published, title=f"Bài {i}"))
    store(
        variant(url="https://hailang.quangtri.gov.vn/b", published="2022-05-05", title="HL"),
        portal_id="hailang",
    )

    since = [a["published"] for a in arc.iter_articles(since="2020-08-03")]
    assert since == ["2020-08-03", "2020-08-03T10:40:00+07:00", "2021-01-01", "2022-05-05"]
    only_anbien = list(arc.iter_articles(portal_id="anbien", since="2020-08-03"))
    assert len(only_anbien) == 3

    out = tmp_path / "since.jsonl"
    with out.open("w", encoding="utf-8") as handle:
        assert export_jsonl(arc, handle, portal_id="anbien", since="2021-01-01") == 1
    assert [a["title"] for a in read_jsonl(out)] == ["Bài 3"]

    with pytest.raises(ArchiveError, match="YYYY-MM-DD"):
        list(arc.iter_articles(since="03/08/2020"))


def test_iter_articles_orders_by_portal_then_published(arc: Archive, store: Store) -> None:
    store(variant(url="https://hailang.quangtri.gov.vn/1", title="H"), portal_id="hailang")
    store(variant(url=f"{BASE}/2", published="2021-01-01", title="B"))
    store(variant(url=f"{BASE}/1", published="2020-01-01", title="A"))
    store(variant(url=f"{BASE}/3", published=None, title="Z"))

    assert [a["title"] for a in arc.iter_articles()] == ["A", "B", "Z", "H"]


# --- default location -------------------------------------------------------------


def test_default_path_prefers_portal_archive_db(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PORTAL_ARCHIVE_DB", str(tmp_path / "mine.sqlite"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "mine.sqlite"


def test_default_path_uses_xdg_data_home_then_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PORTAL_ARCHIVE_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "portal-archive" / "archive.sqlite"

    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local" / "share" / "portal-archive" / "archive.sqlite"
    assert default_db_path() == expected


def test_open_without_a_path_creates_the_default_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PORTAL_ARCHIVE_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with Archive.open() as archive:
        assert archive.count_articles() == 0
    assert (tmp_path / "xdg" / "portal-archive" / "archive.sqlite").is_file()


def test_two_archives_on_one_file_share_data_while_a_reader_is_open(
    arc: Archive, store: Store, db_path: Path
) -> None:
    store(ARTICLE)
    reader = arc.iter_articles()
    assert next(reader)["url"] == ARTICLE["url"]  # a read transaction stays open
    with Archive.open(db_path) as other:
        result = other.store_article(
            "anbien",
            variant(url=f"{BASE}/other", title="Bài khác"),
            fetched_url=f"{BASE}/other",
            raw_body=b"<html>other</html>",
            http_status=200,
            headers={},
            run_id=None,
            parser_version="test-1",
        )
        assert result.status == "new"
        assert other.is_known_url(ARTICLE["url"])
    reader.close()
    assert arc.count_articles() == 2


def test_last_failure_status_of_a_url(tmp_path):
    with Archive.open(tmp_path / "a.sqlite") as archive:
        archive.upsert_portal("p", "P", "https://p.gov.vn")
        assert archive.last_failure_status("p", "https://p.gov.vn/a") is False
        archive.record_failure("p", "https://p.gov.vn/a", "HTTP 503", http_status=503)
        archive.record_failure("p", "https://p.gov.vn/a", "HTTP 404", http_status=404)
        archive.record_failure("p", "https://p.gov.vn/b", "TimeoutError: took too long")
        assert archive.last_failure_status("p", "https://p.gov.vn/a") == 404
        assert archive.last_failure_status("p", "https://p.gov.vn/b") is None
        assert archive.last_failure_status("other", "https://p.gov.vn/a") is False


def test_a_database_url_in_the_environment_is_passed_on(monkeypatch, tmp_path):
    from archive.paths import data_dir_for, default_db_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("PORTAL_ARCHIVE_DB", "postgresql+psycopg://crawler@db.internal/archive")
    assert default_db_path() == "postgresql+psycopg://crawler@db.internal/archive"
    # WARC and media files of a server database go to the default folder.
    assert data_dir_for(None) == tmp_path / "portal-archive"
    monkeypatch.setenv("PORTAL_ARCHIVE_DB", str(tmp_path / "a" / "archive.sqlite"))
    assert data_dir_for(None) == tmp_path / "a"
