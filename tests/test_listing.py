"""Listing analysis on the snapshots' listing pages and on hand-made ones."""

from __future__ import annotations

import json

import pytest

from portal_crawler.listing import analyse_listing
from portal_crawler.parsing.decode import decode_html
from portal_crawler.profiles import generic_profile, get_profile
from tests.helpers import SNAPSHOT_IDS, load_gold, load_site, snapshot_dir

TARGET = "Hoạt động địa phương"


def _first_listing_page(portal_id: str) -> tuple[str, bytes, dict]:
    """(path, body, headers) of the target section's first listing page."""
    root = snapshot_dir(portal_id)
    first = load_site(portal_id)["sections"][0]["url"]
    for line in (root / "responses.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["method"] == "GET" and entry["path"] == first and entry["status"] == 200:
            return first, (root / entry["body"]).read_bytes(), entry["headers"]
    raise AssertionError(f"{portal_id}: no listing page in the snapshot")


@pytest.mark.parametrize("generic", [False, True], ids=["profile", "generic"])
@pytest.mark.parametrize("portal_id", SNAPSHOT_IDS)
def test_first_listing_page_lists_only_section_articles(portal_id, generic):
    profile = get_profile(portal_id)
    site = load_site(portal_id)
    if generic:
        profile = generic_profile(profile.base_url + site["sections"][0]["url"])
    path, body, headers = _first_listing_page(portal_id)
    page = analyse_listing(decode_html(body, headers), profile.base_url + path, profile=profile)
    gold = load_gold(portal_id)
    other_section = {g["url"] for g in gold.values() if g["section"] != TARGET}
    assert page.article_urls, "no article found on the listing"
    assert not set(page.article_urls) & other_section
    assert page.page_urls or page.postbacks, "no pagination found"


LISTING = """<html><body>
<ul class="menu"><li><a href="/gioi-thieu">Giới thiệu</a></li>
 <li><a href="/">Trang chủ</a></li></ul>
<div class="main-content"><h2>Tin địa phương</h2>
 <div class="item"><a href="/tin/a-1.html"><img src="/a.jpg"></a>
   <a href="/tin/a-1.html">Tiêu đề A</a>
   <p>Tóm tắt bài A đủ dài để là một đoạn giới thiệu thực sự.</p></div>
 <div class="item"><a href="/tin/b-2.html">Tiêu đề B</a>
   <p>Tóm tắt bài B đủ dài để là một đoạn giới thiệu thực sự của bài.</p></div>
 <div class="pagination"><a href="/tin?page=2">2</a> <a href="/tin?page=3">3</a>
   <a href="javascript:__doPostBack('pager$next','')">Tiếp</a></div>
</div>
<div class="sidebar"><h3>Tin xem nhiều</h3><ul>
 <li><a href="/khac/x-9.html">Bài khác X</a></li><li><a href="/khac/y-8.html">Bài khác Y</a></li>
 <li><a href="/khac/z-7.html">Bài khác Z</a></li></ul></div>
<a href="https://other.example.org/tin/evil-1.html">Tin ngoài</a>
<a href="/tin/a-1.html?print=1">In bài</a>
</body></html>"""


def test_generic_listing_ignores_sidebars_menus_offsite_and_print_links():
    profile = generic_profile("https://xa.example.gov.vn/tin")
    page = analyse_listing(LISTING, "https://xa.example.gov.vn/tin", profile=profile)
    assert page.article_urls == [
        "https://xa.example.gov.vn/tin/a-1.html",
        "https://xa.example.gov.vn/tin/b-2.html",
    ]
    assert page.page_urls == [
        "https://xa.example.gov.vn/tin?page=2",
        "https://xa.example.gov.vn/tin?page=3",
    ]
    assert page.postbacks == [("pager$next", "")]


def test_a_listing_with_a_single_entry():
    profile = generic_profile("https://xa.example.gov.vn/tin")
    html = "<a href='/tin/a-1.html'>Bài viết duy nhất của trang danh sách này</a>"
    page = analyse_listing(html, "https://xa.example.gov.vn/tin", profile=profile)
    assert page.article_urls == ["https://xa.example.gov.vn/tin/a-1.html"]


def test_listing_survives_garbage():
    profile = generic_profile("https://xa.example.gov.vn/tin")
    for junk in ["", "\x00\x01binary", "<html><a href='javascript:alert(1)'>x</a>", "<" * 1000]:
        page = analyse_listing(junk, "https://xa.example.gov.vn/tin", profile=profile)
        assert page.article_urls == []
