"""End-to-end: real crawls of the five snapshots over real HTTP into real SQLite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from archive import Archive, read_jsonl
from portal_crawler.evaluation import token_f1
from tests.crawl_helpers import FAST_SETTINGS, crawl, portal_archive
from tests.helpers import SNAPSHOT_IDS, load_gold

TARGET = "Hoạt động địa phương"


def _gold_section(portal_id: str) -> tuple[dict[str, dict], dict[str, dict]]:
    gold = load_gold(portal_id)
    target = {g["url"]: g for g in gold.values() if g["section"] == TARGET}
    other = {g["url"]: g for g in gold.values() if g["section"] != TARGET}
    return target, other


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


@pytest.mark.parametrize("portal_id", SNAPSHOT_IDS)
def test_crawl_stores_every_article_once_and_is_idempotent(portal_id, replay, tmp_path):
    server = replay(portal_id)
    db = tmp_path / "archive.sqlite"
    first = json.loads(crawl(db, portal_id, mirror=server.origin).stdout)[0]
    assert first["status"] == "finished"

    target, other = _gold_section(portal_id)
    with Archive.open(db) as archive:
        stored = list(archive.iter_articles(portal_id))
        failures = archive.failures()
    by_url = {a["url"]: a for a in stored}
    # Every article of the section exactly once, fields equal to gold.
    assert len(stored) == len(by_url) == len(target), sorted(by_url)
    for url, gold in target.items():
        assert url in by_url, f"missing {url}"
        got = {key: by_url[url][key] for key in GOLD_KEYS}
        assert got == gold, f"{url} differs from gold"
    # Nothing from the other section.
    assert not set(other) & set(by_url)
    assert {a["section"] for a in stored} == {TARGET}
    # The listing's dead entry is a recorded failure with its URL and reason.
    assert any(f["http_status"] == 404 and f["reason"] for f in failures), failures
    assert first["new"] == len(target)

    # A second crawl adds no rows.
    second = json.loads(crawl(db, portal_id, mirror=server.origin).stdout)[0]
    assert second["new"] == 0
    assert second["unchanged"] == len(target)
    with Archive.open(db) as archive:
        assert archive.count_articles(portal_id) == len(target)

    # Export round-trips.
    out = tmp_path / "export.jsonl"
    portal_archive("export", "--db", str(db), "--portal", portal_id, "-o", str(out))
    exported = read_jsonl(out)
    assert {row["url"]: {k: row[k] for k in GOLD_KEYS} for row in exported} == target
    assert all(row["portal"] == portal_id and len(row["content_hash"]) == 64 for row in exported)


@pytest.mark.parametrize("portal_id", SNAPSHOT_IDS)
def test_generic_crawl_of_a_listing_url_without_profile(portal_id, replay, tmp_path):
    server = replay(portal_id)
    target, _ = _gold_section(portal_id)
    listing = json.loads((Path(server.snapshot_dir) / "site.json").read_text())["sections"][0][
        "url"
    ]
    db = tmp_path / "generic.sqlite"
    # The replay's own address, no profile, no section name: all must be found out.
    crawl(db, "--url", server.origin + listing, mirror=server.origin)
    with Archive.open(db) as archive:
        stored = {a["url"]: a for a in archive.iter_articles()}
    # The listing's rel=canonical gave away the live portal: URLs are the canonical ones.
    assert set(stored) == set(target)
    for url, gold in target.items():
        assert token_f1(gold["body"], stored[url]["body"]) >= 0.95, url
        assert {key: stored[url][key] for key in GOLD_KEYS} == gold, url


def test_all_sections_and_a_named_section(replay, tmp_path):
    server = replay("mocaynam")
    gold = load_gold("mocaynam")
    db = tmp_path / "all.sqlite"
    crawl(db, "mocaynam", "--all-sections", mirror=server.origin)
    with Archive.open(db) as archive:
        stored = {a["url"]: a for a in archive.iter_articles("mocaynam")}
    assert set(stored) == {g["url"] for g in gold.values()}
    assert {a["section"] for a in stored.values()} == {TARGET, "Tin tức - Sự kiện"}

    db = tmp_path / "one.sqlite"
    crawl(db, "mocaynam", "--section", "Tin tức - Sự kiện", mirror=server.origin)
    with Archive.open(db) as archive:
        stored = {a["url"] for a in archive.iter_articles("mocaynam")}
    assert stored == {g["url"] for g in gold.values() if g["section"] == "Tin tức - Sự kiện"}


def test_unknown_portal_and_section_are_clear_errors(tmp_path):
    result = portal_archive("crawl", "nowhere", "--db", str(tmp_path / "x.sqlite"), check=False)
    assert result.returncode == 2
    assert "unknown portal 'nowhere'" in result.stderr
    assert "Traceback" not in result.stderr
    result = portal_archive(
        "crawl", "anbien", "--section", "Thể thao", "--db", str(tmp_path / "x.sqlite"), check=False
    )
    assert result.returncode == 2
    assert "has no section 'Thể thao'" in result.stderr


def test_scrapy_command_line_runs_the_same_crawl(replay, tmp_path):
    server = replay("tanthanh")
    db = tmp_path / "scrapy.sqlite"
    root = Path(__file__).resolve().parent.parent
    listed = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=root, capture_output=True, text=True
    )
    assert listed.stdout.split() == ["portal"], listed.stderr
    settings = [item for pair in FAST_SETTINGS for item in ("-s", pair)]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "portal",
            "-a",
            "portal=tanthanh",
            "-a",
            f"mirror={server.origin}",
            "-s",
            f"PORTAL_ARCHIVE_DB={db}",
            *settings,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    target, _ = _gold_section("tanthanh")
    with Archive.open(db) as archive:
        assert {a["url"] for a in archive.iter_articles("tanthanh")} == set(target)
