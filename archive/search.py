"""Full-text search: an FTS5 index of folded text, bm25 ranking, snippets in the original text.

`articles_fts` holds, for each article (rowid = articles.id), the folded text of its
title, lead, body and image captions. The archive rewrites an article's row in the
same transaction that stores a new or changed version, so search always sees the
current version. Snippets are cut from the original, accented text: a word is
highlighted when its folded form matches a word of the query.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive import bm25, search_terms
from archive.folding import token_spans, tokens
from archive.query import Query, QueryError, Term

FTS_TABLE = "articles_fts"
# Title words weigh most, then the lead, the captions, the body.
BM25_WEIGHTS = (10.0, 5.0, 1.0, 2.0)
BM25 = f"bm25({FTS_TABLE}, {', '.join(map(str, BM25_WEIGHTS))})"

TOKENIZE = "tokenize = 'unicode61 remove_diacritics 2'"
# remove_diacritics 2 only matters for text that reaches the index unfolded (a
# Datasette search box): the archive's own text and queries are folded already.
CREATE_FTS = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    f"title, lead, body, captions, {TOKENIZE}, prefix = '2 3')"
)

# An indexed row read from FTS5's content table (c0..c3: title, lead, body, captions):
# through the virtual table, each read would first load the index's structure.
_INDEXED = f"SELECT c0, c1, c2, c3 FROM {FTS_TABLE}_content WHERE id = :id"

# One definition of an article's indexed document, for one article or all of them.
# Paragraphs and captions are joined by newlines: a phrase does not run across them
# in a snippet, though the index may match one that does.
_DOCUMENTS = f"""
INSERT INTO {FTS_TABLE} (rowid, title, lead, body, captions)
SELECT a.id,
       vn_fold(a.title),
       vn_fold(a.lead),
       vn_fold((SELECT group_concat(p.value, char(10)) FROM json_each(a.body) AS p)),
       vn_fold((SELECT group_concat(i.caption, char(10)) FROM images AS i
                WHERE i.article_id = a.id AND i.caption IS NOT NULL))
FROM articles AS a
"""


def supported(conn: Connection | Session) -> bool:
    """Whether this database has the search index (SQLite only)."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    return bind.dialect.name == "sqlite"


def index_article(session: Session, article_id: int) -> None:
    """(Re)write one article's row of the index from its current stored version, and
    the word counts with it."""
    if not supported(session):
        return
    params = {"id": article_id}
    old = session.execute(text(_INDEXED), params).first()
    if old is not None:
        search_terms.count_document(session, tuple(old), -1, TOKENIZE)
        session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), params)
    session.execute(text(_DOCUMENTS + " WHERE a.id = :id"), params)
    new = session.execute(text(_INDEXED), params).one()
    search_terms.count_document(session, tuple(new), 1, TOKENIZE)


def rebuild_index(conn: Connection | Session) -> int:
    """Rebuild the whole index and the word counts from the articles table; how many
    articles it holds."""
    conn.execute(text(f"DELETE FROM {FTS_TABLE}"))
    conn.execute(text(_DOCUMENTS))
    search_terms.count_all(conn, FTS_TABLE)
    return conn.execute(text(f"SELECT count(*) FROM {FTS_TABLE}")).scalar_one()


def matching_ids(query: Query) -> tuple[str, dict[str, Any]]:
    """SQL selecting the rowids of the articles matching a parsed query, and its parameters."""
    return f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts", {"fts": query.fts()}


@dataclass(frozen=True)
class Filters:
    portal_id: str | None = None
    section: str | None = None
    since: str | None = None  # YYYY-MM-DD, inclusive, portal's local date
    until: str | None = None  # YYYY-MM-DD, inclusive


# Finding and scoring a match costs 3-5 µs at a million articles (FTS5's AND over
# long posting lists, then bm25: the match's positions and its length), and a query
# as common as "kế hoạch" matches a third of an archive: about half a second at a
# million articles. Past this many matches only the most recently archived ones are ranked,
# which FTS5 finds by walking its index backwards and stopping (early termination,
# as Lucene's and Elasticsearch's terminate_after): 30-60 ms. None ranks every match.
RANK_WINDOW = 10_000


class SearchResults(list[dict[str, Any]]):
    """The hits, best first, and whether ranking was bounded.

    `windowed` is True when more articles matched than `window`: the hits are then
    the best of the `window` most recently archived matches (highest ids), not of all.
    """

    def __init__(
        self, hits: Sequence[dict[str, Any]] = (), *, window: int | None, windowed: bool
    ) -> None:
        super().__init__(hits)
        self.window = window
        self.windowed = windowed


def _where(query: Query, filters: Filters) -> tuple[str, list[str], dict[str, Any]]:
    """(join, conditions, parameters) selecting the matches of a query under filters.

    The index is always the outer loop: driven from articles instead, SQLite would
    run the whole MATCH and bm25's document counts again for each candidate article.
    Portal and dates become a set of ids read from the (portal_id, published_date)
    index, checked per match without a probe of the index; the section (no index) is
    read from each matching article.
    """
    params: dict[str, Any] = {"fts": query.fts()}
    where = [f"{FTS_TABLE} MATCH :fts"]
    chosen = []
    for column, value, op in (
        ("portal_id", filters.portal_id, "="),
        ("published_date", filters.since, ">="),
        ("published_date", filters.until, "<="),
    ):
        if value is not None:
            chosen.append(f"{column} {op} :f{len(chosen)}")
            params[f"f{len(chosen) - 1}"] = value
    if chosen:
        # The unary + keeps the set a filter: as a rowid constraint it would be a probe.
        ids = f"SELECT id FROM articles WHERE {' AND '.join(chosen)}"
        where.append(f"+{FTS_TABLE}.rowid IN ({ids})")
    joined = ""
    if filters.section is not None:
        joined = f"CROSS JOIN articles AS f ON f.id = {FTS_TABLE}.rowid"  # CROSS: index first
        where.append("f.section = :section")
        params["section"] = filters.section
    return joined, where, params


def _top_sql(
    query: Query,
    filters: Filters,
    limit: int,
    window: int | None = None,
    rank: tuple[str, dict[str, Any]] = (BM25, {}),
) -> tuple[str, dict[str, Any]]:
    """SQL for the best `limit` matches, best first: of all of them (window None), or
    of the newest `window` when more match. Each row's `floor` is then the id of the
    newest match left out (NULL when none was).

    bm25 needs a score for every match, so the inner query keeps that work narrow (the
    index's rowid and score) and only the page it keeps is joined to the articles'
    text. With a window, one walk of the index newest first scores window + 1 matches
    (materialized once); the oldest of them only tells that more matched.
    """
    joined, where, params = _where(query, filters)
    params["limit"] = limit
    score, rank_params = rank
    params.update(rank_params)
    matches = f"""
            SELECT {FTS_TABLE}.rowid AS id, {score} AS score
            FROM {FTS_TABLE} {joined}
            WHERE {" AND ".join(where)}"""
    if window is None:
        prelude, ranked, floor = "", matches, "NULL"
    else:
        params["window"] = window
        prelude = f"""
        WITH newest AS MATERIALIZED ({matches}
            ORDER BY {FTS_TABLE}.rowid DESC
            LIMIT :window + 1
        ),
        cut AS (SELECT CASE WHEN count(*) > :window THEN min(id) END AS floor FROM newest)"""
        ranked = "SELECT id, score FROM newest WHERE id > coalesce((SELECT floor FROM cut), 0)"
        floor = "(SELECT floor FROM cut)"
    sql = f"""{prelude}
        SELECT a.id, a.portal_id, p.name AS portal_name, a.url, a.section, a.title,
               a.published, a.lead, a.body, a.removed_at, top.score, {floor} AS floor
        FROM ({ranked}
            ORDER BY score, id
            LIMIT :limit
        ) AS top
        JOIN articles AS a ON a.id = top.id
        JOIN portals AS p ON p.id = a.portal_id
        ORDER BY top.score, top.id
    """
    return sql, params


def run_search(
    session: Session,
    query: Query,
    filters: Filters,
    limit: int,
    highlight: tuple[str, str] = ("[", "]"),
    window: int | None = RANK_WINDOW,
) -> SearchResults:
    """The best-ranked articles for a parsed query, best first, with snippets: of all
    matches, or of the newest `window` of them when more match."""
    if not supported(session):
        raise QueryError("full-text search needs an SQLite archive")
    try:
        rank = bm25.ranking(session, query, FTS_TABLE, search_terms.TERMS_TABLE, BM25_WEIGHTS)
        sql, params = _top_sql(query, filters, limit, window, rank)
        rows = session.execute(text(sql), params).mappings().all()
    except OperationalError as exc:
        # Parsing makes this unreachable for any query text; a damaged index is not.
        raise QueryError(f"the search could not run: {exc.orig}") from exc
    captions = _captions(session, [row["id"] for row in rows])
    results = SearchResults(window=window, windowed=bool(rows) and rows[0]["floor"] is not None)
    for row in rows:
        body = row["body"]
        paragraphs = body if isinstance(body, list) else _json_list(body)
        fields = [("title", row["title"]), ("lead", row["lead"])]
        fields += [("body", p) for p in paragraphs]
        fields += [("captions", c) for c in captions.get(row["id"], [])]
        where_found, snippet = make_snippet(
            fields, query.terms, start=highlight[0], end=highlight[1]
        )
        results.append(
            {
                "id": row["id"],
                "portal": row["portal_id"],
                "portal_name": row["portal_name"],
                "url": row["url"],
                "section": row["section"],
                "title": row["title"],
                "published": row["published"],
                "removed_at": row["removed_at"],
                # bm25: lower is better; shown as a positive relevance.
                "score": round(-float(row["score"]), 6),
                "snippet": snippet,
                "snippet_field": where_found,
            }
        )
    return results


def _json_list(value: Any) -> list[str]:
    loaded = json.loads(value) if isinstance(value, str) else value
    return [str(item) for item in loaded or []]


def _captions(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    marks = ", ".join(f":i{n}" for n in range(len(ids)))
    rows = session.execute(
        text(
            f"SELECT article_id, caption FROM images WHERE article_id IN ({marks}) "
            "AND caption IS NOT NULL ORDER BY article_id, position"
        ),
        {f"i{n}": value for n, value in enumerate(ids)},
    )
    found: dict[int, list[str]] = {}
    for article_id, caption in rows:
        found.setdefault(article_id, []).append(caption)
    return found


# --- snippets -----------------------------------------------------------------

START, END = "[", "]"
SNIPPET_WORDS = 24


@lru_cache(maxsize=1)  # built on first use: a command that does not search spares it
def _letter_variants() -> tuple[dict[str, str], re.Pattern[str]]:
    """For each ASCII letter and digit, a regex class of the characters folding to it
    alone; and a pattern finding any character that is neither one of those nor
    outside words (a combining mark, "ß", a letter of another script).

    In text without such a character a word folds character by character, so a word
    folding to "kế" holds one character of each class of "ke" in a row.
    """
    variants = {c: {c, c.upper()} for c in string.ascii_lowercase + string.digits}
    plain = {chr(code) for code in range(0x80)}
    for code in range(0x80, 0x2070):
        char = chr(code)
        found = tokens(char)
        if not found:
            plain.add(char)
        elif found[0] in variants and unicodedata.is_normalized("NFC", char):
            variants[found[0]].add(char)
            plain.add(char)
    classes = {c: "[" + re.escape("".join(sorted(v))) + "]" for c, v in variants.items()}
    return classes, re.compile("[^" + re.escape("".join(sorted(plain))) + "]")


@lru_cache(maxsize=256)
def _first_words(heads: tuple[tuple[str, bool], ...]) -> re.Pattern[str] | None:
    """A pattern finding, in text without unusual characters, every spelling of any of
    these folded words (or of a word they start: prefix True); None if a character of
    one has no class."""
    classes = _letter_variants()[0]
    if any(c not in classes for head, _ in heads for c in head):
        return None
    letter = "[" + "".join(members[1:-1] for members in classes.values()) + "]"
    spelled = (
        f"(?<!{letter})" + "".join(classes[c] for c in head) + ("" if prefix else f"(?!{letter})")
        for head, prefix in heads
    )
    return re.compile("|".join(spelled))


def _quick_pattern(terms: Sequence[Term]) -> re.Pattern[str] | None:
    """`_first_words` for the first word of each term (a lone word may be a prefix)."""
    heads = {(term.words[0], term.prefix and len(term.words) == 1) for term in terms}
    return _first_words(tuple(sorted(heads)))


def highlight_spans(text_: str, terms: Sequence[Term]) -> list[tuple[int, int]]:
    """Character spans of `text_` matching any term, merged when only spaces part them."""
    if not terms:
        return []
    quick = _quick_pattern(terms)
    clean = quick is not None and not _letter_variants()[1].search(text_)
    spans = _quick_spans(text_, terms, quick) if clean and quick else _folded_spans(text_, terms)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and (start <= merged[-1][1] or text_[merged[-1][1] : start].isspace()):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _quick_spans(
    text_: str, terms: Sequence[Term], quick: re.Pattern[str]
) -> list[tuple[int, int]]:
    """Spans in text whose words fold letter by letter: the quick pattern finds every
    word that starts a term, so only the few words from each of those are folded."""
    if all(len(term.words) == 1 and not term.prefix for term in terms):
        # Each match is then one whole word folding to a term: the span itself.
        return [found.span() for found in quick.finditer(text_)]
    spans: list[tuple[int, int]] = []
    longest = max(len(term.words) for term in terms)
    for found in quick.finditer(text_):
        words = list(islice(token_spans(text_, found.start()), longest))
        _spans_at(words, 0, terms, spans)
    return spans


def _folded_spans(text_: str, terms: Sequence[Term]) -> list[tuple[int, int]]:
    """Spans found by folding every word of the text (any text)."""
    spans: list[tuple[int, int]] = []
    words = list(token_spans(text_))
    for i in range(len(words)):
        _spans_at(words, i, terms, spans)
    return spans


def _spans_at(
    words: list[tuple[int, int, str]],
    i: int,
    terms: Sequence[Term],
    spans: list[tuple[int, int]],
) -> None:
    """Add the span of each term that matches the words from the i-th on."""
    for term in terms:
        size = len(term.words)
        if i + size > len(words):
            continue
        window = [word[2] for word in words[i : i + size]]
        if _matches(window, term):
            spans.append((words[i][0], words[i + size - 1][1]))


def _matches(window: list[str], term: Term) -> bool:
    *exact, last = term.words
    if window[:-1] != exact:
        return False
    return window[-1].startswith(last) if term.prefix else window[-1] == last


def make_snippet(
    fields: Sequence[tuple[str, str | None]],
    terms: Sequence[Term],
    *,
    start: str = START,
    end: str = END,
    words: int = SNIPPET_WORDS,
) -> tuple[str | None, str]:
    """(field, snippet): the piece of text with the most matches, matches marked.

    Fields are tried in order (title, lead, body paragraphs, captions); a term tied
    to a field counts only there. Without any match: the lead or the title, unmarked.
    """
    best: tuple[int, str, str, list[tuple[int, int]]] | None = None
    for name, value in fields:
        if not value:
            continue
        usable = [t for t in terms if t.field in (None, name)]
        spans = highlight_spans(value, usable)
        if spans and (best is None or len(spans) > best[0]):
            best = (len(spans), name, value, spans)
    if best is None:
        fallback = next(((n, v) for n, v in fields if n == "lead" and v), None)
        fallback = fallback or next(((n, v) for n, v in fields if v), (None, ""))
        return fallback[0], _window(fallback[1] or "", [], words, start, end)
    _, name, value, spans = best
    return name, _window(value, spans, words, start, end)


def _window(text_: str, spans: list[tuple[int, int]], words: int, start: str, end: str) -> str:
    """About `words` words of text around the first match, with matches marked."""
    positions = [m[0] for m in token_spans(text_)]
    first = spans[0][0] if spans else 0
    index = max((i for i, p in enumerate(positions) if p <= first), default=0)
    lo_word = max(0, index - words // 3)
    hi_word = min(len(positions), lo_word + words)
    lo = positions[lo_word] if positions and lo_word > 0 else 0
    hi = positions[hi_word] if hi_word < len(positions) else len(text_)
    # A match the window would cut in two is shown whole.
    hi = max([hi, *(e for s, e in spans if s < hi < e)])
    piece, cursor = [], lo
    for s, e in spans:
        if e <= lo or s >= hi:
            continue
        s, e = max(s, lo), min(e, hi)
        piece += [text_[cursor:s], start, text_[s:e], end]
        cursor = e
    piece.append(text_[cursor:hi])
    snippet = "".join(piece).strip()
    return ("… " if lo > 0 else "") + snippet + (" …" if hi < len(text_) else "")
