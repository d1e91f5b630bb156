"""Vietnamese full-text search on a crawled archive of every snapshot, against an oracle.

The oracle reads the gold articles with its own folding, so the search index, the
query parser and the folding are all checked against an independent account of
which articles contain which words.
"""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from archive import Archive, ArchiveError, QueryError, fold, parse_query, search
from portal_crawler.replay import ReplayServer
from tests.crawl_helpers import crawl, portal_archive
from tests.helpers import FIXTURES_DIR, SNAPSHOT_IDS, load_gold

TARGET = "Hoạt động địa phương"


# --- the oracle -------------------------------------------------------------------


def oracle_fold(text: str) -> str:
    bare = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in bare if unicodedata.category(c) != "Mn").lower()


def oracle_words(text: str | None) -> list[str]:
    return re.findall(r"[^\W_]+", oracle_fold(text or ""))


def columns(article: dict[str, Any]) -> list[list[str]]:
    """The words of each indexed column: title, lead, body, captions."""
    body = [w for p in article["body"] for w in oracle_words(p)]
    captions = [w for img in article["images"] for w in oracle_words(img["caption"])]
    return [oracle_words(article["title"]), oracle_words(article["lead"]), body, captions]


def has_phrase(cols: list[list[str]], phrase: list[str], prefix: bool = False) -> bool:
    for words in cols:
        for i in range(len(words) - len(phrase) + 1):
            window = words[i : i + len(phrase)]
            head_ok = window[:-1] == phrase[:-1]
            last = window[-1]
            if head_ok and (last.startswith(phrase[-1]) if prefix else last == phrase[-1]):
                return True
    return False


def expected(gold: dict[str, dict[str, Any]], *items: tuple[str, bool]) -> set[str]:
    """URLs of the gold articles having every item: (words of a phrase, prefix?)."""
    found = set()
    for url, article in gold.items():
        cols = columns(article)
        if all(has_phrase(cols, oracle_words(text), prefix) for text, prefix in items):
            found.add(url)
    return found


# --- a crawled archive of all five snapshots -------------------------------------


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    db = tmp_path_factory.mktemp("search") / "archive.sqlite"
    gold: dict[str, dict[str, Any]] = {}
    for portal_id in SNAPSHOT_IDS:
        with ReplayServer(FIXTURES_DIR / portal_id) as server:
            crawl(db, portal_id, mirror=server.origin)
        for article in load_gold(portal_id).values():
            if article["section"] == TARGET:
                gold[article["url"]] = {**article, "portal": portal_id}
    yield db, gold


@pytest.fixture
def arc(crawled: tuple[Path, dict]) -> Iterator[Archive]:
    with Archive.open(crawled[0]) as archive:
        yield archive


def urls(hits: list[dict[str, Any]]) -> set[str]:
    return {hit["url"] for hit in hits}


SPELLINGS = [
    ("Dân vận khéo", "dan van kheo", "DÂN VẬN KHÉO", "dÂn VẬn khÉo"),
    ("Đại đoàn kết", "dai doan ket", "ĐẠI ĐOÀN KẾT", "đại Đoàn kết"),
    ("Nguyễn Đăng", "nguyen dang", "NGUYỄN ĐĂNG"),
    ("Nguyễn Đình", "nguyen dinh", "NGUYEN ĐINH"),
    ("HĐND huyện", "hdnd huyen", "Hđnd HUYỆN"),
    ("Đảng ủy", "dang uy", "ĐẢNG ỦY"),
]


@pytest.mark.parametrize("spellings", SPELLINGS, ids=lambda s: s[1])
def test_accented_folded_and_capitalised_queries_find_the_same_articles(
    arc: Archive, crawled: tuple[Path, dict], spellings: tuple[str, ...]
) -> None:
    gold = crawled[1]
    want = expected(gold, *((word, False) for word in spellings[0].split()))
    assert want, f"the snapshots should contain {spellings[0]!r}"
    for spelling in spellings:
        assert urls(arc.search(spelling, limit=100)) == want, spelling


def test_d_with_stroke_is_folded_to_d_unlike_sqlite_remove_diacritics(
    arc: Archive, crawled: tuple[Path, dict]
) -> None:
    # "duc"/"dang" must find "Đức"/"Đảng": the case SQLite's own folding misses.
    want = expected(crawled[1], ("Đảng", False))
    assert want and urls(arc.search("dang", limit=100)) == want
    assert fold("Đảng Đức đ") == "dang duc d"


def test_phrase_queries_need_the_words_in_order(arc: Archive, crawled: tuple[Path, dict]) -> None:
    gold = crawled[1]
    phrase = expected(gold, ("dân vận khéo", False))
    assert len(phrase) >= 3  # An Biên, Mỏ Cày Nam, Tân Thành
    assert urls(arc.search('"dân vận khéo"', limit=100)) == phrase
    assert urls(arc.search('"dan van kheo"', limit=100)) == phrase
    assert urls(arc.search('"khéo vận dân"', limit=100)) == expected(gold, ("khéo vận dân", False))
    # Words anywhere vs. the phrase: at least as many.
    assert urls(arc.search("khéo vận dân", limit=100)) >= phrase


def test_prefix_queries(arc: Archive, crawled: tuple[Path, dict]) -> None:
    gold = crawled[1]
    for query, items in (
        ("kheo*", [("kheo", True)]),
        ("nguy*", [("nguy", True)]),
        ('"dai doan"*', [("dai doan", True)]),
        ("chuyển đổi s*", [("chuyển", False), ("đổi", False), ("s", True)]),
    ):
        want = expected(gold, *items)
        assert want, query
        assert urls(arc.search(query, limit=100)) == want, query


def test_or_and_exclusion(arc: Archive, crawled: tuple[Path, dict]) -> None:
    gold = crawled[1]
    covid = expected(gold, ("covid", False))
    drought = expected(gold, ("hạn hán", False))
    assert covid and drought
    assert urls(arc.search('covid OR "hạn hán"', limit=100)) == covid | drought
    assert urls(arc.search('"hạn hán" -covid', limit=100)) == drought - covid
    assert urls(arc.search('"hạn hán" NOT "mỏ cày"', limit=100)) == drought - expected(
        gold, ("mỏ cày", False)
    )


def test_field_filters_and_archive_filters(arc: Archive, crawled: tuple[Path, dict]) -> None:
    gold = crawled[1]
    in_titles = {
        url for url, a in gold.items() if has_phrase([oracle_words(a["title"])], ["covid", "19"])
    }
    assert in_titles and urls(arc.search('title:"covid 19"', limit=100)) == in_titles

    everywhere = expected(gold, ("covid", False))
    by_portal = urls(arc.search("covid", portal_id="hailang", limit=100))
    assert by_portal == {u for u in everywhere if gold[u]["portal"] == "hailang"}
    dated = urls(arc.search("covid", since="2021-10-01", until="2022-12-31", limit=100))
    assert dated == {
        u for u in everywhere if "2021-10-01" <= gold[u]["published"][:10] <= "2022-12-31"
    }
    assert urls(arc.search("covid", section=TARGET, limit=100)) == everywhere
    assert arc.search("covid", section="Tin tức - Sự kiện") == []
    assert len(arc.search("covid", limit=2)) == 2


def test_hits_are_ranked_by_bm25_with_snippets_in_the_original_text(arc: Archive) -> None:
    hits = arc.search("dan van kheo", limit=100)
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    # A title match outranks articles that only say it in the body.
    assert "Dân vận khéo" in hits[0]["title"]
    for hit in hits:
        assert hit["snippet"] and "[" in hit["snippet"]
        marked = re.findall(r"\[([^\]]+)\]", hit["snippet"])
        # Marked words are the accented originals, folding to the query's words.
        assert all(set(oracle_words(m)) <= {"dan", "van", "kheo"} for m in marked), marked
    assert any("[Dân]" in hit["snippet"] or "[Dân vận" in hit["snippet"] for hit in hits)
    exact = arc.search('"Dân vận khéo"', limit=1)[0]
    assert "[Dân vận khéo]" in exact["snippet"], exact["snippet"]


def test_filters_keep_the_ranking_of_the_whole_search(arc: Archive) -> None:
    # Filters are applied inside the ranking query: the page is the best filtered hits.
    every = arc.search("covid", limit=100)
    for portal in SNAPSHOT_IDS:
        want = [(h["url"], h["score"]) for h in every if h["portal"] == portal][:3]
        got = arc.search("covid", portal_id=portal, since="2019-01-01", limit=3)
        assert [(h["url"], h["score"]) for h in got] == want, portal


def test_the_index_drives_a_filtered_search(arc: Archive) -> None:
    # Driven from articles (as the planner likes with a date range), SQLite would run
    # the MATCH and bm25's document counts again for each article: seconds, not ms.
    filters = search.Filters("hailang", TARGET, "2020-01-01", "2022-12-31")
    sql, params = search._top_sql(parse_query("covid OR dich"), filters, 20)
    with arc.engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
    scans = [step for step in plan if step.startswith(("SCAN", "SEARCH"))]
    assert scans[0].startswith("SCAN articles_fts VIRTUAL TABLE INDEX 0:M"), plan
    assert not any("articles_fts VIRTUAL TABLE INDEX 0:=" in step for step in plan), plan


def test_a_common_word_is_ranked_within_the_newest_matches(arc: Archive) -> None:
    every = arc.search("huyen", limit=1000, rank_window=None)
    assert not every.windowed and len(every) > 20
    assert not arc.search("huyen", limit=1000, rank_window=len(every)).windowed
    window = 12
    newest = sorted((h["id"] for h in every), reverse=True)[:window]
    bounded = arc.search("huyen", limit=5, rank_window=window)
    assert bounded.windowed and bounded.window == window
    # The best of the newest twelve, in the order and with the scores of the full ranking.
    want = [(h["url"], h["score"]) for h in every if h["id"] in newest][:5]
    assert [(h["url"], h["score"]) for h in bounded] == want
    assert want != [(h["url"], h["score"]) for h in every][:5]  # the window mattered
    # Filters come first: the window holds the newest matches of the filtered search.
    hailang = arc.search("huyen", portal_id="hailang", limit=1000, rank_window=None)
    got = arc.search("huyen", portal_id="hailang", limit=1000, rank_window=3)
    assert {h["id"] for h in got} == set(sorted((h["id"] for h in hailang), reverse=True)[:3])
    with pytest.raises(ArchiveError, match="rank window"):
        arc.search("huyen", rank_window=0)


@pytest.mark.parametrize(
    ("text", "query", "marked"),
    [
        ("Ông Nguye\u0302\u0303n Văn An", "nguyen", ["Nguye\u0302\u0303n"]),  # decomposed
        ("\u212aế hoạch năm", "ke hoach", ["\u212aế hoạch"]),  # Kelvin sign: K once NFC
        ("Diện tích 100 m² đất", "dat", ["đất"]),
        ("Đường “giao thông” – nông thôn", '"duong giao"', ["Đường “giao"]),
        ("Kết quả kế hoạch", "ke*", ["Kết", "kế"]),
        ("Kết quả", "ke", []),
    ],
)
def test_snippets_mark_every_spelling_of_the_words(text: str, query: str, marked: list) -> None:
    snippet = search.make_snippet([("body", text)], parse_query(query).terms)[1]
    assert re.findall(r"\[([^\]]+)\]", snippet) == marked, snippet


HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    "*",
    "-",
    "OR",
    "NOT",
    "AND OR NOT",
    "NEAR(",
    "NEAR(a b, 3)",
    "title:",
    "nosuchcolumn:x",
    "{title lead}: x",
    "^start",
    "a + b",
    "(unbalanced",
    ")",
    "'; DROP TABLE articles; --",
    "x' OR '1'='1",
    '" OR rowid > 0 --',
    "articles_fts MATCH '*'",
    "\x00",
    "dân\x00vận",
    "😀 🇻🇳",
    "\u0301\u0300",
    "a" * 5000,
    " ".join(["từ"] * 500),
    "-covid",
    "-covid -dịch",
    "rank:1",
    "rowid:1",
    "title:title:title",
    "covid*" * 50,
]


@pytest.mark.parametrize("query", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_queries_give_a_clear_error_or_a_result_never_a_crash(
    arc: Archive, query: str
) -> None:
    try:
        hits = arc.search(query, limit=5)
    except QueryError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        assert not any(w in str(exc) for w in ("fts5", "sqlite", "syntax error")), str(exc)
    else:
        assert isinstance(hits, list)
    # The archive is intact.
    assert arc.count_articles() > 0


def test_a_query_is_data_in_the_fts_expression() -> None:
    expression = parse_query('\'; DROP TABLE x; -- NEAR(a) title:b "c d"* -e').fts()
    assert (
        expression == '("drop" AND "table" AND "x" AND "near a" AND title : "b" AND "c d"*) NOT "e"'
    )
    with pytest.raises(QueryError, match="nothing to search for"):
        parse_query("¿?!")
    with pytest.raises(QueryError, match="too long"):
        parse_query("x" * 2000)


def test_search_command_prints_hits_or_a_clear_error(crawled: tuple[Path, dict]) -> None:
    db = str(crawled[0])
    out = portal_archive("search", "dan van kheo", "--db", db, "--limit", "2").stdout
    assert out.count("\n1. ") + out.startswith("1. ") == 1 and "2. " in out
    assert "[Dân] [vận] [khéo]" in out or "[Dân vận khéo]" in out or "[khéo]" in out

    as_json = portal_archive("search", '"Dân vận khéo"', "--db", db, "--json").stdout
    hits = json.loads(as_json)
    assert hits and all("[Dân vận khéo]" in h["snippet"] for h in hits)
    assert set(hits[0]) >= {"url", "portal", "title", "published", "score", "snippet"}

    for query in ('"', "OR", "-- -x"):
        bad = portal_archive("search", "--db", db, "--", query, check=False)
        assert bad.returncode == 2, bad
        assert bad.stderr.startswith("portal-archive: error: ") and "Traceback" not in bad.stderr
    bad_date = portal_archive("search", "x", "--db", db, "--since", "2020-13-01", check=False)
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr
    none = portal_archive("search", "zzzyyyxxx", "--db", db)
    assert none.stdout == "" and "No articles match" in none.stderr

    bounded = portal_archive("search", "huyen", "--db", db, "--rank-window", "3")
    assert "note: more than 3 articles match" in bounded.stderr and "1. " in bounded.stdout
    whole = portal_archive("search", "huyen", "--db", db, "--rank-window", "0")
    assert "note:" not in whole.stderr and "1. " in whole.stdout


# --- the index follows the articles ------------------------------------------------

BASE = "https://example.gov.vn"
ARTICLE = {
    "url": f"{BASE}/1",
    "section": "Tin",
    "title": "Hội nghị về chuyển đổi số",
    "published": "2024-01-02T08:00:00+07:00",
    "lead": "Sáng nay, ông Nguyễn Đức Anh chủ trì.",
    "body": ["Đoạn một.", "Đoạn hai nói về đường giao thông."],
    "images": [{"src": f"{BASE}/a.jpg", "caption": "Quang cảnh hội nghị ở Đồng Tháp"}],
    "credit": None,
    "attachments": [],
}


def _store(archive: Archive, article: dict[str, Any], body: bytes = b"x") -> Any:
    return archive.store_article(
        "p",
        article,
        fetched_url=article["url"],
        raw_body=body,
        http_status=200,
        headers={},
        run_id=None,
        parser_version="t",
    )


def test_the_index_follows_new_and_changed_versions(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "a.sqlite") as archive:
        archive.upsert_portal("p", "Portal", BASE)
        _store(archive, ARTICLE)
        assert urls(archive.search("nguyen duc anh")) == {ARTICLE["url"]}
        assert urls(archive.search("dong thap")) == {ARTICLE["url"]}  # captions
        assert urls(archive.search("duong giao thong")) == {ARTICLE["url"]}  # body

        edited = copy.deepcopy(ARTICLE)
        edited["lead"] = "Chiều nay, bà Trần Thị Bình chủ trì."
        edited["images"] = []
        assert _store(archive, edited, b"y").status == "changed"
        # Search sees the current version only.
        assert archive.search("nguyen duc anh") == []
        assert archive.search("dong thap") == []
        assert urls(archive.search("tran thi binh")) == {ARTICLE["url"]}
        # Storing the same version again changes nothing.
        assert _store(archive, edited, b"y").status == "unchanged"
        assert len(archive.search("tran thi binh")) == 1
        # A rebuild gives the same index.
        assert archive.rebuild_search_index() == 1
        assert urls(archive.search("tran thi binh")) == {ARTICLE["url"]}


def test_a_title_match_ranks_above_a_body_match(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "a.sqlite") as archive:
        archive.upsert_portal("p", "Portal", BASE)
        in_body = {**ARTICLE, "url": f"{BASE}/body", "title": "Tin khác"}
        in_body["body"] = ["Một đoạn dài về nông thôn mới và đường giao thông nông thôn."]
        in_title = {**ARTICLE, "url": f"{BASE}/title", "title": "Đường giao thông nông thôn"}
        in_title["body"] = ["Không nói gì thêm."]
        _store(archive, in_body, b"1")
        _store(archive, in_title, b"2")
        hits = archive.search("duong giao thong")
        assert [h["url"] for h in hits] == [in_title["url"], in_body["url"]]
        assert hits[0]["snippet"] == "[Đường giao thông] nông thôn"
        assert hits[0]["snippet_field"] == "title"


def test_search_arguments_are_checked(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "a.sqlite") as archive:
        with pytest.raises(ArchiveError, match="YYYY-MM-DD"):
            archive.search("x", until="yesterday")
        with pytest.raises(ArchiveError, match="at least 1"):
            archive.search("x", limit=0)


def test_cli_search_on_a_missing_archive_says_so(tmp_path: Path) -> None:
    missing = portal_archive("search", "x", "--db", str(tmp_path / "none.sqlite"), check=False)
    assert missing.returncode == 1 and "no archive at" in missing.stderr


def test_stats_count_articles_per_portal_and_month(crawled: tuple[Path, dict]) -> None:
    db, gold = crawled
    stats = json.loads(portal_archive("stats", "--db", str(db), "--json").stdout)
    assert stats["totals"]["articles"] == len(gold)
    assert stats["totals"]["runs"] == len(SNAPSHOT_IDS)
    by_month: dict[tuple[str, str], int] = {}
    for article in gold.values():
        key = (article["portal"], article["published"][:7])
        by_month[key] = by_month.get(key, 0) + 1
    assert {(m["portal"], m["month"]): m["articles"] for m in stats["months"]} == by_month
    with Archive.open(db) as archive:
        failures = archive.failures()
    for portal in stats["portals"]:
        assert portal["last_run"]["status"] == "finished"
        mine = [f for f in failures if f["portal"] == portal["portal"]]
        assert portal["failures"] == portal["failures_in_last_run"] == len(mine)
        if mine:
            assert portal["top_failure_reasons"][0]["reason"] == mine[0]["reason"]
    text = portal_archive("stats", "--db", str(db)).stdout
    assert all(portal_id in text for portal_id in SNAPSHOT_IDS)
    assert "Articles per month" in text and "finished" in text


# --- bm25 from the archive's word counts (archive.bm25) ----------------------------

RANKED = [
    "covid",
    "huyen",
    "dân vận khéo",
    '"dân vận khéo"',
    "hoi*",
    '"hoi ng"*',
    "title:huyện",
    "thanh nien OR phu nu",
    "huyen -covid",
    "xa NOT thon",
    "nong thon moi ubnd",
    "khongcotu OR huyen",
    "covid-19 tiêm",
]


@pytest.mark.skipif(not search.bm25.available(), reason="archive._bm25 is not built")
@pytest.mark.parametrize("query_text", RANKED)
def test_word_counts_give_the_scores_of_bm25_itself(arc: Archive, query_text: str) -> None:
    query = parse_query(query_text)
    filters = search.Filters()
    with Session(arc.engine) as session:
        assert search.bm25.installed(session)
        rank = search.bm25.ranking(
            session, query, search.FTS_TABLE, search.search_terms.TERMS_TABLE, search.BM25_WEIGHTS
        )
        counted = search._top_sql(query, filters, 10_000, None, rank)
        by_fts5 = search._top_sql(query, filters, 10_000)
        fast = session.execute(text(counted[0]), counted[1]).all()
        slow = session.execute(text(by_fts5[0]), by_fts5[1]).all()
    assert "bm25_df" in counted[0] and "bm25_df" not in by_fts5[0]
    assert len(slow) > 1
    assert [(row.id, row.score) for row in fast] == [(row.id, row.score) for row in slow]
    counts = rank[1]["document_counts"].split(",")
    assert len(counts) == len(query.terms) + len(query.excluded)
    if query_text in ("covid", "huyen", "title:huyện", "thanh nien OR phu nu", "huyen -covid"):
        assert all(counts), counts  # every phrase counted from the table, none by FTS5


def test_the_crawled_archive_counts_each_word_as_fts5_does(crawled: tuple[Path, dict]) -> None:
    from tests.test_migrations import index_vocabulary, term_counts

    counts = term_counts(crawled[0])
    assert len(counts) > 500 and counts == index_vocabulary(crawled[0])


SYLLABLES = ["Dân", "vận", "khéo", "dan", "VAN", "Đức", "đức", "xã", "Xa", "hội", "hỏi", "nghị"]


@given(
    words=st.lists(st.sampled_from(SYLLABLES), min_size=1, max_size=30),
    gaps=st.lists(st.sampled_from([" ", ", ", " – ", "“", "” ", "\n", "-", "…"]), min_size=30),
    query=st.lists(
        st.sampled_from([*SYLLABLES, '"dan van"', "hoi*", '"xa hoi"*', "ng*"]),
        min_size=1,
        max_size=4,
    ),
)
@settings(max_examples=300, deadline=None)
def test_quick_highlighting_finds_the_spans_folding_every_word_finds(
    words: list[str], gaps: list[str], query: list[str]
) -> None:
    text_ = "".join(word + gap for word, gap in zip(words, gaps, strict=False))
    terms = parse_query(" ".join(query)).terms
    quick = search._quick_pattern(terms)
    assert quick is not None and not search._letter_variants()[1].search(text_)
    assert sorted(set(search._quick_spans(text_, terms, quick))) == sorted(
        set(search._folded_spans(text_, terms))
    )
