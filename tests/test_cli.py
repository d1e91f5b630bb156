"""The `portal-archive` command line as users run it (real subprocesses)."""

from __future__ import annotations

import json

from archive import Archive, read_jsonl
from tests.crawl_helpers import portal_archive
from tests.helpers import FIXTURES_DIR, load_gold


def test_help_explains_every_command():
    result = portal_archive("--help")
    for command in ("crawl", "parse", "export", "portals", "eval", "demo"):
        assert command in result.stdout
    crawl_help = portal_archive("crawl", "--help").stdout
    for option in ("--db", "--section", "--all-sections", "--mirror", "--url"):
        assert option in crawl_help


def test_portals_lists_every_shipped_profile():
    rows = json.loads(portal_archive("portals", "--json").stdout)
    by_id = {row["id"]: row for row in rows}
    assert set(by_id) >= {"anbien", "hailang", "mocaynam", "tanthanh", "trieuson"}
    assert by_id["anbien"]["base_url"] == "https://anbien.kiengiang.gov.vn"
    assert by_id["anbien"]["cms"] == "sharepoint"
    for row in rows:
        assert row["default_sections"] == ["Hoạt động địa phương"]
    assert "Hoạt động địa phương" in portal_archive("portals").stdout


def test_parse_a_saved_page_prints_the_gold_article():
    gold = load_gold("anbien")["1872-nam-du-tong-ket-phong-trao-dan-van-kheo"]
    page = FIXTURES_DIR / "anbien" / "pages" / "chitiet-nid1872.html"
    result = portal_archive(
        "parse", str(page), "--url", gold["url"], "--section", "Hoạt động địa phương"
    )
    assert json.loads(result.stdout) == gold


def test_parse_needs_a_url_and_a_readable_file(tmp_path):
    result = portal_archive("parse", str(tmp_path / "missing.html"), "--url", "x", check=False)
    assert result.returncode == 1 and "cannot read" in result.stderr
    page = tmp_path / "p.html"
    page.write_bytes(b"<html></html>")
    result = portal_archive("parse", str(page), check=False)
    assert result.returncode == 2 and "--url is required" in result.stderr


def test_parse_survives_garbage_bytes(tmp_path):
    page = tmp_path / "junk.html"
    page.write_bytes(b"\x00\xff\xfe<html><body><p>\x81\x82" + bytes(range(256)))
    result = portal_archive(
        "parse", str(page), "--url", "https://example.gov.vn/a.html", check=False
    )
    article = json.loads(result.stdout)
    assert article["url"] == "https://example.gov.vn/a.html"
    assert "Traceback" not in result.stderr
    # Not an article: the best effort is printed, with a one-line error and exit 1.
    assert result.returncode == 1 and "not an article" in result.stderr


def test_eval_scores_snapshots():
    dirs = [str(FIXTURES_DIR / "anbien"), str(FIXTURES_DIR / "tanthanh")]
    result = portal_archive("eval", *dirs, check=False)
    assert "anbien" in result.stdout and "tanthanh" in result.stdout
    assert "TOTAL" in result.stdout
    scores = json.loads(portal_archive("eval", *dirs, "--json", check=False).stdout)
    assert [s["portal"] for s in scores] == ["anbien", "tanthanh"]
    result = portal_archive("eval", "/nonexistent", check=False)
    assert result.returncode == 2 and "not a snapshot" in result.stderr


def test_export_without_an_archive_is_a_clear_error(tmp_path):
    result = portal_archive("export", "--db", str(tmp_path / "none.sqlite"), check=False)
    assert result.returncode == 1
    assert "no archive" in result.stderr and "Traceback" not in result.stderr


def test_demo_runs_offline_into_the_archive(tmp_path):
    db = tmp_path / "demo.sqlite"
    out = tmp_path / "demo.jsonl"
    result = portal_archive("demo", "--db", str(db), "-o", str(out))
    assert "anbien: finished" in result.stdout
    gold = {
        g["url"] for g in load_gold("anbien").values() if g["section"] == "Hoạt động địa phương"
    }
    rows = read_jsonl(out)
    assert {row["url"] for row in rows} == gold
    with Archive.open(db) as archive:
        assert archive.count_articles("anbien") == len(gold)
        assert any(f["http_status"] == 404 for f in archive.failures())


def test_default_archive_location_follows_the_environment(tmp_path, monkeypatch):
    db = tmp_path / "env.sqlite"
    monkeypatch.setenv("PORTAL_ARCHIVE_DB", str(db))
    portal_archive("demo", "-o", str(tmp_path / "out.jsonl"))
    assert db.exists()
