"""Hostile input: the parser survives mutated snapshot pages (a fast, derandomized subset of
benchmarks/fuzz.py), and the known-bad shapes of issue 6 give an article or a reason."""

from __future__ import annotations

import codecs
import logging
import random
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz import (
    DEFAULT_DIRS,
    MUTATIONS,
    Case,
    Report,
    check_case,
    invariant_problems,
    load_seeds,
)
from portal_crawler.parsing import extract, parse_article
from portal_crawler.parsing.article import missing_fields

SEEDS = load_seeds(DEFAULT_DIRS)
URL = "https://example.gov.vn/tin-tuc/bai-viet-1.html"
ARTICLE = (
    "<html><head><meta charset='utf-8'><title>Huyện tổ chức hội nghị tổng kết năm</title>"
    "</head><body><div class='menu'><a href='/'>Trang chủ</a></div>"
    "<h1>Huyện tổ chức hội nghị tổng kết năm</h1><div class='content'>"
    "<p>Thứ Hai, 03/08/2020 10:40</p>"
    "<p>Sáng ngày 3/8, Ủy ban nhân dân huyện tổ chức hội nghị tổng kết công tác năm, "
    "đánh giá kết quả thực hiện các chỉ tiêu kinh tế, xã hội và quốc phòng an ninh.</p>"
    "<p>Tại hội nghị, các đại biểu đã thảo luận, đóng góp nhiều ý kiến cho phương hướng, "
    "nhiệm vụ của năm tới, tập trung vào xây dựng nông thôn mới.</p>"
    "<p><b>Tin và ảnh: Quốc Vương</b></p></div></body></html>"
)


@pytest.fixture
def errors():
    """Records of the parser's safety net (an exception it caught: a page lost)."""
    records: list[logging.LogRecord] = []

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Handler(logging.ERROR)
    logger = logging.getLogger("portal_crawler.parsing")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def _check(body: bytes, headers: dict[str, str] | None = None) -> None:
    article = parse_article(URL, body, headers or {})
    assert invariant_problems(article) == []


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    page=st.integers(0, len(SEEDS) - 1),
    steps=st.lists(st.integers(0, len(MUTATIONS) - 1), min_size=1, max_size=3),
    salt=st.integers(0, 2**32 - 1),
    profiled=st.booleans(),
)
def test_mutated_pages_never_crash(page: int, steps: list[int], salt: int, profiled: bool) -> None:
    seed = SEEDS[page]
    rng = random.Random(salt)
    body, headers = seed.body, dict(seed.headers)
    for index in steps:
        name, mutate, _ = MUTATIONS[index]
        if name == "nesting_bomb":
            continue  # covered below once; too slow to repeat here
        body, headers = mutate(rng, body, headers, SEEDS[(page + 1) % len(SEEDS)].body)
    case = Case(seed, body, headers, seed.profiled if profiled else seed.generic)
    report = Report()
    logger = logging.getLogger("portal_crawler.parsing")
    caught: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = caught.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        check_case(case, report, _NullCounter())
    finally:
        logger.removeHandler(handler)
    assert report.unhandled == 0, report.examples
    assert report.invariants == 0, report.examples
    assert caught == [], [r.getMessage() for r in caught]


class _NullCounter:
    count = 0
    last = ""


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   \n",
        b"\x00" * 100,
        bytes(range(256)) * 40,
        b"\xff\xfe",
        b"<html><body><div class='content'><p>cut mid-t",
        b"<html><title>" + "Tiêu đề ".encode() * 10_000,
        b"<p>&#1;&#xFFFE;&#0;&#xD800;" + b"<div>x</div>" * 10 + b"</p>",
        b"<link rel=canonical href='http://[bad/'><base href='//[x'><img src='http://[::1'>",
        b"<script type='application/ld+json'>" + b"[" * 50_000 + b"</script>",
    ],
)
def test_hostile_bytes_give_no_article_or_a_sane_one(body: bytes, errors) -> None:
    _check(body)
    assert errors == []


def test_nesting_bomb_before_the_article_keeps_the_article(errors) -> None:
    bomb = ARTICLE.replace("<h1>", "<div>" * 100_000 + "</div>" * 10 + "<h1>")
    article = parse_article(URL, bomb.encode(), {})
    assert errors == []
    assert missing_fields(article) == []
    assert article.title == "Huyện tổ chức hội nghị tổng kết năm"
    assert article.published == "2020-08-03T10:40:00+07:00"
    assert article.body[-1].startswith("Tại hội nghị")


def test_nul_bytes_and_invalid_utf8_inside_an_article(errors) -> None:
    body = (
        ARTICLE.encode()
        .replace(b"<p>T", b"<p>\x00\xff\xfeT")
        .replace(b"h\xe1\xbb\x99i", b"h\xe1\xbb\x99\x00i")
    )
    article = parse_article(URL, body, {})
    assert errors == []
    assert missing_fields(article) == []
    assert article.credit is not None and article.credit.text_by == ["Quốc Vương"]


def _cp1258(text: str) -> bytes:
    """Vietnamese in windows-1258: precomposed base letters (â, ơ, ư ...), combining tones."""
    out = []
    for ch in text:
        base, *marks = unicodedata.normalize("NFD", ch)
        for i, mark in enumerate(marks):
            letter = unicodedata.normalize("NFC", base + mark)
            if len(letter) == 1 and letter.encode("cp1258", errors="ignore"):
                base, marks = letter, marks[:i] + marks[i + 1 :]
                break
        out.append((base + "".join(marks)).encode("cp1258"))
    return b"".join(out)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (codecs.BOM_UTF16_LE + ARTICLE.encode("utf-16-le"), {}),
        (codecs.BOM_UTF16_BE + ARTICLE.encode("utf-16-be"), {"content-type": "text/html"}),
        # windows-1258 writes tone marks as combining characters; the meta tag says utf-8.
        (
            _cp1258(ARTICLE.replace("utf-8", "windows-1258")),
            {"content-type": "text/html; charset=utf-8"},
        ),
        (ARTICLE.encode(), {"content-type": "text/html; charset=iso-8859-1"}),
    ],
)
def test_encodings_and_charset_lies(body: bytes, headers: dict[str, str], errors) -> None:
    article = parse_article(URL, body, headers)
    assert errors == []
    assert article.title == "Huyện tổ chức hội nghị tổng kết năm"
    assert article.published == "2020-08-03T10:40:00+07:00"


def test_huge_page_is_cut_with_a_warning(errors, caplog, monkeypatch) -> None:
    monkeypatch.setattr(extract, "MAX_PARSE_BYTES", 200_000)  # 8 MB in production
    filler = "<p>Nội dung lặp lại nhiều lần.</p>" * 30_000  # about 1.2 MB
    page = ARTICLE.replace("</div></body>", "</div>" + filler + "</body>").encode()
    with caplog.at_level(logging.WARNING, logger="portal_crawler.parsing"):
        article = parse_article(URL, page, {})
    assert errors == []
    assert article.title == "Huyện tổ chức hội nghị tổng kết năm"
    assert article.published == "2020-08-03T10:40:00+07:00"
    assert any("only the first 200000" in r.getMessage() for r in caplog.records)


def test_tag_soup_of_too_many_elements_is_cut(errors, caplog, monkeypatch) -> None:
    monkeypatch.setattr(extract, "MAX_ELEMENTS", 5_000)  # 100,000 in production
    page = ARTICLE.replace("</body>", "<b>x</b>" * 20_000 + "</body>").encode()
    with caplog.at_level(logging.WARNING, logger="portal_crawler.parsing"):
        article = parse_article(URL, page, {})
    assert errors == []
    assert article.title == "Huyện tổ chức hội nghị tổng kết năm"
    assert any("elements, only the first" in r.getMessage() for r in caplog.records)
