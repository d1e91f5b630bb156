"""Portals of CMS families no profile describes (WordPress, Joomla, DNN, Drupal), extracted
generically.

The snapshots in tests/fixtures/extra_portals/ follow FORMAT.md; their gold is the
content data the pages were rendered from (see build_common.py), not parser output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive import Archive
from portal_crawler.evaluation import FIELDS, evaluate_snapshot
from portal_crawler.replay import ReplayServer
from tests.crawl_helpers import crawl

EXTRA_DIR = Path(__file__).parent / "fixtures" / "extra_portals"
EXTRA_IDS = ("tanphu", "vinhthanh", "krongbong", "concuong")
TARGET = "Hoạt động địa phương"


def _gold(portal_id: str) -> dict[str, dict]:
    folder = EXTRA_DIR / portal_id / "gold"
    return {
        gold["url"]: gold
        for gold in (json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json"))
    }


@pytest.mark.parametrize("portal_id", EXTRA_IDS)
def test_snapshot_follows_the_format(portal_id: str):
    root = EXTRA_DIR / portal_id
    site = json.loads((root / "site.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in site["sections"]][:1] == [TARGET] and len(site["sections"]) >= 2
    lines = [json.loads(line) for line in (root / "responses.jsonl").read_text().splitlines()]
    for line in lines:
        for answer in (line, line.get("then") or {}):
            if "body" in answer:
                assert (root / answer["body"]).is_file(), answer["body"]
    gold = _gold(portal_id)
    assert sum(g["section"] == TARGET for g in gold.values()) >= 5
    assert all(set(g) == set(FIELDS) for g in gold.values())


@pytest.mark.parametrize("portal_id", EXTRA_IDS)
def test_generic_extraction_matches_gold(portal_id: str):
    score = evaluate_snapshot(EXTRA_DIR / portal_id, use_profile=False)
    assert len(score.pages) >= 7
    failures = [(p.gold_file, p.mismatches) for p in score.pages if not p.all_exact]
    assert not failures


@pytest.mark.parametrize("portal_id", EXTRA_IDS)
def test_generic_crawl_stores_the_section_and_nothing_else(portal_id: str, tmp_path: Path):
    site = json.loads((EXTRA_DIR / portal_id / "site.json").read_text(encoding="utf-8"))
    target = {url: g for url, g in _gold(portal_id).items() if g["section"] == TARGET}
    db = tmp_path / "generic.sqlite"
    with ReplayServer(EXTRA_DIR / portal_id) as server:
        listing = server.origin + site["sections"][0]["url"]
        summary = json.loads(
            crawl(db, "--url", listing, "--section", TARGET, mirror=server.origin).stdout
        )[0]
    assert summary["status"] == "finished"
    with Archive.open(db) as archive:
        stored = {a["url"]: a for a in archive.iter_articles()}
        failures = archive.failures()
    # The crawl learns the live origin from the listing's canonical link.
    assert set(stored) == set(target)
    for url, gold in target.items():
        assert {key: stored[url][key] for key in FIELDS} == gold, url
    assert any(f["http_status"] == 404 for f in failures), failures
