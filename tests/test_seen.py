"""The on-disk sets that keep a long crawl's memory flat."""

from __future__ import annotations

from scrapy import Request
from scrapy.utils.test import get_crawler

from portal_crawler.seen import DiskDupeFilter, DiskSet


def test_disk_set_is_a_set_of_str_and_bytes() -> None:
    seen = DiskSet()
    assert seen.add("https://a.gov.vn/tin-tuc/1.html") is True
    assert seen.add("https://a.gov.vn/tin-tuc/1.html") is False
    assert seen.add(b"\x00\x01") is True
    seen.update(["https://a.gov.vn/Tin-tuc/1.html", "huyện Đông Hải"])
    assert "https://a.gov.vn/tin-tuc/1.html" in seen
    assert "https://a.gov.vn/Tin-tuc/1.html" in seen  # exact strings: no folding
    assert "huyện Đông Hải" in seen
    assert "https://a.gov.vn/tin-tuc/2.html" not in seen
    assert b"\x00\x01" in seen and 42 not in seen
    assert len(seen) == 4
    seen.close()


def test_disk_dupefilter_filters_like_scrapys() -> None:
    crawler = get_crawler(settings_dict={"DUPEFILTER_CLASS": "portal_crawler.seen.DiskDupeFilter"})
    dupefilter = DiskDupeFilter.from_crawler(crawler)
    first = Request("https://a.gov.vn/tin?id=1&x=2")
    assert dupefilter.request_seen(first) is False
    # The same request after URL canonicalisation is a duplicate; another is not.
    assert dupefilter.request_seen(Request("https://a.gov.vn/tin?x=2&id=1")) is True
    assert dupefilter.request_seen(Request("https://a.gov.vn/tin?id=2")) is False
    assert len(dupefilter._fingerprints) == 2
    dupefilter.close("finished")
