"""`portal-archive parse --batch` and the parse command's verdict on non-article pages."""

from __future__ import annotations

import json
from pathlib import Path

from tests.crawl_helpers import portal_archive

EXTRA = Path(__file__).parent / "fixtures" / "extra_portals"


def _gold(portal_id: str, stem_prefix: str) -> dict:
    path = next((EXTRA / portal_id / "gold").glob(f"{stem_prefix}-*.json"))
    return json.loads(path.read_text(encoding="utf-8"))


def test_batch_prints_one_line_per_page_in_order(tmp_path: Path):
    wp = _gold("tanphu", "1251")
    dnn = _gold("krongbong", "2374")
    listing = tmp_path / "list.tsv"
    listing.write_text(
        "# file, URL, content type\n"
        f"{EXTRA / 'krongbong/pages/article-2374.html'}\t{dnn['url']}\ttext/html; charset=utf-8\n"
        f"{tmp_path / 'missing.html'}\thttps://xa.example.gov.vn/a\n"
        f"{EXTRA / 'tanphu/pages/post-1251.html'}\t{wp['url']}\n"
        f"{EXTRA / 'tanphu/pages/robots.txt'}\thttps://xa.example.gov.vn/robots.txt\ttext/plain\n",
        encoding="utf-8",
    )
    result = portal_archive("parse", "--batch", str(listing), check=False)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 4
    # Generic extraction: no profile knows these hosts; only the section is unknown.
    assert {**rows[0], "section": dnn["section"]} == dnn
    assert "cannot read file" in rows[1]["error"]
    assert {**rows[2], "section": wp["section"]} == wp
    assert rows[3]["error"].startswith("not an article")
    assert result.returncode == 1


def test_parse_of_a_page_that_is_not_an_article_fails_clearly(tmp_path: Path):
    page = tmp_path / "robots.html"
    page.write_text("<html><body><p>User-agent: *</p></body></html>", encoding="utf-8")
    result = portal_archive("parse", str(page), "--url", "https://xa.example.gov.vn/x", check=False)
    assert result.returncode == 1
    assert json.loads(result.stdout)["title"] is None  # the best effort is still printed
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not an article" in lines[0] and "Traceback" not in result.stderr


def test_parse_of_an_article_of_an_unknown_host_succeeds():
    gold = _gold("vinhthanh", "412")
    page = EXTRA / "vinhthanh/pages/article-412.html"
    result = portal_archive("parse", str(page), "--url", gold["url"], "--section", gold["section"])
    assert json.loads(result.stdout) == gold
