"""The parser against every gold page of the fixture snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portal_crawler.evaluation import (
    FIELDS,
    evaluate_snapshot,
    find_page,
    iter_gold,
    snapshot_profile,
    token_f1,
)
from portal_crawler.parsing import parse_article
from portal_crawler.parsing.article import GOLD_KEYS
from tests.helpers import FIXTURES_DIR, SNAPSHOT_IDS


def _gold_cases() -> list[tuple[str, Path, bool]]:
    cases = []
    for portal_id in SNAPSHOT_IDS:
        for path, later in iter_gold(FIXTURES_DIR / portal_id):
            cases.append((portal_id, path, later))
    return cases


GOLD_CASES = _gold_cases()


def test_every_snapshot_has_gold_pages():
    assert len(GOLD_CASES) >= 60


@pytest.mark.parametrize(
    ("portal_id", "gold_path", "later"),
    GOLD_CASES,
    ids=[f"{p}/{g.parent.name}/{g.stem}" for p, g, _ in GOLD_CASES],
)
def test_gold_page_with_profile(portal_id: str, gold_path: Path, later: bool):
    snapshot = FIXTURES_DIR / portal_id
    site = json.loads((snapshot / "site.json").read_text(encoding="utf-8"))
    gold = json.loads(gold_path.read_text(encoding="utf-8"))
    page = find_page(snapshot, gold["url"], later=later)
    assert page is not None, "gold page missing from the snapshot"
    body, headers = page
    profile = snapshot_profile(site, use_profile=True)
    got = parse_article(
        gold["url"], body, headers, profile=profile, section=gold["section"]
    ).to_dict()
    assert tuple(got) == GOLD_KEYS  # the record's keys, in the gold order
    for name in FIELDS:
        assert got[name] == gold[name], name


@pytest.mark.parametrize("portal_id", SNAPSHOT_IDS)
def test_generic_extraction_per_portal(portal_id: str):
    score = evaluate_snapshot(FIXTURES_DIR / portal_id, use_profile=False)
    assert score.pages
    assert score.body_f1 >= 0.95
    for page in score.pages:
        assert page.body_f1 >= 0.9, page.gold_file
    assert score.rate("title") == 1.0
    assert score.rate("published") == 1.0


def test_token_f1_is_multiset_overlap():
    assert token_f1(["a b b c"], ["a b c"]) == pytest.approx(2 * 1 * 0.75 / 1.75)
    assert token_f1([], []) == 1.0
    assert token_f1(["a"], []) == 0.0


def test_rebase_maps_replay_origin_back(tmp_path: Path):
    snapshot = FIXTURES_DIR / "anbien"
    gold_path = next(p for p, later in iter_gold(snapshot) if not later)
    gold = json.loads(gold_path.read_text(encoding="utf-8"))
    body, headers = find_page(snapshot, gold["url"], later=False) or (b"", {})
    live = "https://anbien.kiengiang.gov.vn"
    mirror = "http://127.0.0.1:8765"
    rewritten = body.replace(live.encode(), mirror.encode())
    got = parse_article(
        gold["url"],
        rewritten,
        headers,
        section=gold["section"],
        rebase=lambda url: url.replace(mirror, live, 1) if url.startswith(mirror) else url,
    ).to_dict()
    assert got["url"] == gold["url"]
    assert got["images"] == gold["images"]
