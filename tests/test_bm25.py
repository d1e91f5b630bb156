"""The word counts behind bm25 (archive.bm25): kept exact through every index write.

`articles_fts_terms` must say, for every word, exactly what FTS5 itself counts in
the index (fts5vocab): bm25_df's scores equal bm25()'s only then. Scores themselves
are compared on the crawled archive in tests/test_search.py.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive import Archive, bm25, fold, search, search_terms
from tests.test_archive import ARTICLE, Store, arc, clock, db_path, store, variant
from tests.test_migrations import index_vocabulary, term_counts

needs_bm25_df = pytest.mark.skipif(not bm25.available(), reason="archive._bm25 is not built")


__all__ = ["arc", "clock", "db_path", "store"]  # the fixtures of tests/test_archive.py


def test_counts_follow_new_changed_and_rebuilt_articles(
    arc: Archive, store: Store, db_path: Path
) -> None:
    db = db_path
    second = variant(
        url=ARTICLE["url"].replace("1851", "1852"),
        title="Tổng kết năm Nam Du",
        body=["Bài thứ hai."],
        images=[],
    )
    assert store(ARTICLE).status == "new"
    assert store(second).status == "new"
    counts = {(term, field): n for term, field, n in term_counts(db)}
    assert counts["hdnd", "*"] == 2 and counts["nam", "*"] == 1 and counts["du", "*"] == 1
    assert counts["nam", "title"] == 1 and ("nam", "lead") not in counts
    assert term_counts(db) == index_vocabulary(db)

    # A new version: words it lost are counted down (and dropped at zero), new ones up.
    edited = variant(body=["Đoạn mới hoàn toàn về xã Nam Du."], images=[])
    assert store(edited).status == "changed"
    counts = {(term, field): n for term, field, n in term_counts(db)}
    assert not {("gach", "*"), ("quang", "*"), ("quang", "captions")} & set(counts)
    assert counts["nam", "*"] == 2 and counts["xa", "*"] == 1 and counts["hdnd", "*"] == 2
    assert counts["nam", "title"] == 1 and ("nam", "body") not in counts
    assert term_counts(db) == index_vocabulary(db)

    assert store(edited).status == "unchanged"
    assert term_counts(db) == index_vocabulary(db)
    # A rebuild counts from scratch and agrees.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE articles_fts_terms SET documents = 99")
    assert arc.rebuild_search_index() == 2
    assert term_counts(db) == index_vocabulary(db)


def test_words_fts5_would_split_or_fold_are_counted_as_fts5_tokenizes_them(
    store: Store, db_path: Path
) -> None:
    # The counts come from FTS5's own tokenizer, not a Python imitation of it.
    odd = variant(
        title="Ký hiệu ½ và ² x₂, ＦＵＬＬ，width; ΣΊΣΥΦΟΣ; 東京 Ⅻ",
        body=["e\u0301 composed later; ﬁ ligature; İstanbul ß"],
    )
    store(odd)
    assert term_counts(db_path) == index_vocabulary(db_path)


@needs_bm25_df
def test_bm25_df_is_installed_on_the_archives_connections(arc: Archive) -> None:
    with Session(arc.engine) as session:
        assert bm25.installed(session)


def test_ci_builds_the_compiled_ranking() -> None:
    # CI sets this: there the fast path must not silently fall back to bm25().
    if os.environ.get("PORTAL_REQUIRE_NATIVE") != "1":
        pytest.skip("PORTAL_REQUIRE_NATIVE is not set")
    assert bm25.available()


@needs_bm25_df
def test_a_count_list_that_does_not_fit_the_query_is_an_error(arc: Archive, store: Store) -> None:
    store(ARTICLE)
    sql = (
        "SELECT bm25_df(articles_fts, :counts) FROM articles_fts "
        'WHERE articles_fts MATCH \'"hdnd" "huyen"\''
    )
    with Session(arc.engine) as session:
        assert session.execute(text(sql), {"counts": "1,1"}).scalar() < 0
        with pytest.raises(OperationalError, match="one document count is needed per phrase"):
            session.execute(text(sql), {"counts": "1"}).all()


def test_without_bm25_df_searches_rank_with_bm25(
    arc: Archive, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(ARTICLE)
    store(variant(url=ARTICLE["url"] + "&x=1", title="Tin khác: HĐND xã"))
    fast = [(h["url"], h["score"]) for h in arc.search("hdnd huyen OR xa")]
    monkeypatch.setattr(bm25, "installed", lambda session: False)
    slow = [(h["url"], h["score"]) for h in arc.search("hdnd huyen OR xa")]
    assert len(slow) == 2 and fast == slow


TEXT = st.text(
    alphabet=st.sampled_from(
        list("aăâbcdđeêghiklmnoôơpqrstuưvxyAĐZ019 _-.,;:!?'\"()/%&+\n")
        + list("áàảãạếềểễệốồổỗộớờởỡợứừửữự“”–—…«»°€±©·\u00a0\u2009²½ﬁİß東Σς")
    ),
    max_size=60,
)


@given(columns=st.tuples(TEXT, TEXT, TEXT, TEXT))
@settings(max_examples=150, deadline=None)
def test_words_split_in_python_are_the_words_fts5_makes(
    columns: tuple[str, str, str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folded = tuple(fold(value) for value in columns)
    plain = search_terms._plain_words(folded)
    if plain is None:
        return  # left to FTS5 itself
    db = tmp_path_factory.mktemp("h") / "a.sqlite"
    with Archive.open(db) as arc, arc.engine.begin() as conn, Session(bind=conn) as session:
        made = search_terms._fts5_words(session, folded, search.TOKENIZE)
    assert plain == made
