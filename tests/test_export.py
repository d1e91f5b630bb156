"""Exports: JSON Lines and CSV, filters, revisions, removed articles, batches."""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import archive.export as export_module
import archive.storage as storage
from archive import (
    EXPORT_KEYS,
    GOLD_KEYS,
    Archive,
    ArchiveError,
    ExportFilter,
    export_csv,
    export_jsonl,
    iter_records,
    read_csv,
    read_jsonl,
    write_export,
)
from tests.crawl_helpers import portal_archive

BASE = "https://anbien.kiengiang.gov.vn"


def article(n: int, **changes: Any) -> dict[str, Any]:
    record = {
        "url": f"{BASE}/Trang/ChiTietTinTuc.aspx?nid={n}",
        "section": "Hoạt động địa phương",
        "title": f"Bài số {n}: Đại hội Đảng bộ xã",
        "published": f"2020-0{n}-0{n}T08:00:00+07:00",
        "lead": f"Tóm tắt {n}, có dấu “ngoặc kép”, và dấu phẩy.",
        "body": [f"Đoạn một của bài {n}.", "Đoạn hai có dấu phẩy, chấm phẩy; và “ngoặc”."],
        "images": [{"src": f"{BASE}/{n}.jpg", "caption": f"Ảnh {n}"}],
        "credit": {
            "raw": "Tin: Quốc Vương",
            "text_by": ["Quốc Vương"],
            "photo_by": None,
            "source": None,
        },
        "attachments": [{"url": f"{BASE}/{n}.pdf", "name": "Kế hoạch, số 1"}],
    }
    record.update(changes)
    return record


class Clock:
    def __init__(self) -> None:
        self.ticks = 0

    def __call__(self) -> str:
        self.ticks += 1
        return f"2026-11-27T12:{self.ticks // 60:02d}:{self.ticks % 60:02d}Z"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Four articles: one edited twice, one removed, one on another portal and section."""
    monkeypatch.setattr(storage, "utc_now", Clock())
    path = tmp_path / "archive.sqlite"
    with Archive.open(path) as arc:
        arc.upsert_portal("anbien", "An Biên", BASE)
        arc.upsert_portal("hailang", "Hải Lăng", "https://hailang.quangtri.gov.vn")

        def store(portal: str, record: dict[str, Any], raw: bytes) -> None:
            arc.store_article(
                portal,
                record,
                fetched_url=record["url"],
                raw_body=raw,
                http_status=200,
                headers={},
                run_id=None,
                parser_version="t",
            )

        store("anbien", article(1), b"1")
        store("anbien", article(1, title="Bài số 1 (sửa lần một)"), b"1b")
        store("anbien", article(1, title="Bài số 1 (sửa lần hai): Đức"), b"1c")
        store("anbien", article(2, credit=None, images=[], attachments=[], lead=None), b"2")
        store("anbien", article(3), b"3")
        arc.mark_removed(
            "anbien", article(3)["url"], reason="HTTP 404", http_status=404, run_id=None
        )
        other = article(4, url="https://hailang.quangtri.gov.vn/4", section="Tin tức")
        store("hailang", other, b"4")
    yield path


def titles(records: list[dict[str, Any]]) -> list[str]:
    return [r["title"] for r in records]


def test_jsonl_has_the_documented_keys_in_order_and_current_versions(db: Path) -> None:
    with Archive.open(db) as arc:
        out = io.StringIO()
        assert export_jsonl(arc, out) == 4
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [list(line) for line in lines] == [list(EXPORT_KEYS)] * 4
    first = lines[0]
    assert first["title"] == "Bài số 1 (sửa lần hai): Đức"
    assert (first["revision"], first["current"], first["removed_at"]) == (3, True, None)
    assert first["observed_at"] == "2026-11-27T12:00:03Z"  # when revision 3 was stored
    assert {k: first[k] for k in GOLD_KEYS} == article(1, title="Bài số 1 (sửa lần hai): Đức")
    assert lines[1]["credit"] is None and lines[1]["lead"] is None and lines[1]["images"] == []
    assert lines[2]["removed_at"] is not None
    assert [line["portal"] for line in lines] == ["anbien"] * 3 + ["hailang"]


def test_filters(db: Path) -> None:
    with Archive.open(db) as arc:

        def pick(**filters: Any) -> list[str]:
            return [r["url"][-1] for r in iter_records(arc, ExportFilter(**filters))]

        assert pick() == ["1", "2", "3", "4"]
        assert pick(include_removed=False) == ["1", "2", "4"]
        assert pick(portal_id="hailang") == ["4"]
        assert pick(section="Tin tức") == ["4"]
        assert pick(since="2020-02-02") == ["2", "3", "4"]
        assert pick(until="2020-02-02") == ["1", "2"]
        assert pick(since="2020-02-02", until="2020-03-03") == ["2", "3"]
        assert pick(query="duc") == ["1"]  # "Đức" of the current title
        assert pick(query='"sua lan mot"') == []  # an old version is not searched
        assert pick(query='"dai hoi dang bo"', portal_id="anbien") == ["2", "3"]
        with pytest.raises(ArchiveError, match="YYYY-MM-DD"):
            pick(until="2020-2-2")
        with pytest.raises(ArchiveError, match="nothing to search for"):
            pick(query="***")


def test_revisions_export_every_version_oldest_first(db: Path) -> None:
    with Archive.open(db) as arc:
        records = list(iter_records(arc, ExportFilter(include_revisions=True, portal_id="anbien")))
    assert [(r["url"][-1], r["revision"], r["current"]) for r in records] == [
        ("1", 1, False),
        ("1", 2, False),
        ("1", 3, True),
        ("2", 1, True),
        ("3", 1, True),
    ]
    assert titles(records[:3]) == [
        "Bài số 1: Đại hội Đảng bộ xã",
        "Bài số 1 (sửa lần một)",
        "Bài số 1 (sửa lần hai): Đức",
    ]
    assert [list(r) for r in records] == [list(EXPORT_KEYS)] * 5
    assert records[0]["images"] == article(1)["images"]
    assert records[0]["attachments"] == article(1)["attachments"]
    assert len({r["content_hash"] for r in records[:3]}) == 3


def test_csv_round_trips_to_the_same_records(db: Path, tmp_path: Path) -> None:
    with Archive.open(db) as arc:
        path = tmp_path / "out.csv"
        with open(path, "w", encoding="utf-8", newline="") as out:
            assert export_csv(arc, out, include_revisions=True) == 6
        expected = list(iter_records(arc, ExportFilter(include_revisions=True)))
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(EXPORT_KEYS)
    assert read_csv(path) == expected


def test_batches_join_children_correctly(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Archive.open(db) as arc:
        whole = list(iter_records(arc))
        monkeypatch.setattr(export_module, "BATCH", 1)
        assert list(iter_records(arc)) == whole
        with pytest.raises(ArchiveError, match="unknown export format"):
            write_export(arc, io.StringIO(), "xml")


def test_export_command_flags(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    done = portal_archive("export", "--db", str(db), "-o", str(out))
    assert "exported 3 articles" in done.stderr  # removed articles only on request
    assert [r["url"][-1] for r in read_jsonl(out)] == ["1", "2", "4"]

    portal_archive("export", "--db", str(db), "--include-removed", "-o", str(out))
    assert [r["url"][-1] for r in read_jsonl(out)] == ["1", "2", "3", "4"]

    args = [
        "--include-revisions",
        "--include-removed",
        "--portal",
        "anbien",
        "--until",
        "2020-01-31",
    ]
    portal_archive("export", "--db", str(db), *args, "-o", str(out))
    assert [(r["revision"], r["current"]) for r in read_jsonl(out)] == [
        (1, False),
        (2, False),
        (3, True),
    ]

    csv_out = tmp_path / "a.csv"
    portal_archive(
        "export", "--db", str(db), "--format", "csv", "--query", "Đức", "-o", str(csv_out)
    )
    assert [r["url"][-1] for r in read_csv(csv_out)] == ["1"]

    section = portal_archive("export", "--db", str(db), "--section", "Tin tức").stdout
    assert [json.loads(line)["portal"] for line in section.splitlines()] == ["hailang"]

    for bad in (["--since", "2020-13-01"], ["--query", '"']):
        target = tmp_path / "bad.jsonl"
        result = portal_archive("export", "--db", str(db), *bad, "-o", str(target), check=False)
        assert result.returncode == 2 and result.stderr.startswith("portal-archive: error:")
        assert not target.exists() and not Path(f"{target}.part").exists()


def test_export_of_an_archive_without_articles(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "empty.sqlite") as arc:
        out = io.StringIO()
        assert write_export(arc, out, "csv") == 0
        assert out.getvalue() == ",".join(EXPORT_KEYS) + "\r\n"
        assert list(arc.iter_articles(include_revisions=True)) == []


def test_gold_articles_survive_csv(tmp_path: Path) -> None:
    from tests.helpers import load_gold

    gold = list(load_gold("anbien").values())
    with Archive.open(tmp_path / "g.sqlite") as arc:
        arc.upsert_portal("anbien", "An Biên", BASE)
        for n, record in enumerate(gold):
            arc.store_article(
                "anbien",
                copy.deepcopy(record),
                fetched_url=record["url"],
                raw_body=str(n).encode(),
                http_status=200,
                headers={},
                run_id=None,
                parser_version="t",
            )
        path = tmp_path / "g.csv"
        with open(path, "w", encoding="utf-8", newline="") as out:
            export_csv(arc, out)
    by_url = {r["url"]: {k: r[k] for k in GOLD_KEYS} for r in read_csv(path)}
    assert by_url == {g["url"]: g for g in gold}
