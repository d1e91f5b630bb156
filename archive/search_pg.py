"""Full-text search on PostgreSQL: the words of the SQLite index, in a weighted tsvector.

On PostgreSQL `articles_fts` is a plain table, one row per article (`article_id`
= articles.id), whose `document` is a tsvector of the folded words of the
article's current version, GIN-indexed. The archive builds it in Python with the
tokenizer and folding that queries go through (archive.folding.tokens), so both
back ends index the same words: no stemming and no stop words (as PostgreSQL's
'simple' configuration), "Đức" as "duc". Each word carries its field as a weight
(title A, lead B, captions C, body D) and its position; fields are one position
apart, so a phrase never runs from one field into the next (FTS5 keeps fields in
separate columns), while paragraphs follow each other as in the SQLite index.

A parsed query (archive.query) becomes a tsquery: groups joined by `&`,
alternatives by `|`, a phrase's words by `<->`, a prefix as `:*`, a field filter
as that field's weight, an exclusion as `& !`. Ranking is ts_rank with the
SQLite weights (title 10, lead 5, captions 2, body 1); snippets are cut from the
accented text by the same code as on SQLite (archive.search.make_snippet).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from archive.folding import tokens
from archive.query import Query, QueryError, Term
from archive.search import RANK_WINDOW, Filters, SearchResults, make_snippet

FTS_TABLE = "articles_fts"
CREATE_FTS = (
    f"""CREATE TABLE {FTS_TABLE} (
    article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    document TSVECTOR NOT NULL
)""",
    f"CREATE INDEX ix_{FTS_TABLE}_document ON {FTS_TABLE} USING GIN (document)",
)

# The indexed fields in position order (the longest last: PostgreSQL caps positions
# at 16383), and their weights.
WEIGHTS = {"title": "A", "lead": "B", "captions": "C", "body": "D"}
# ts_rank lists its weights as {D, C, B, A}: body 1, captions 2, lead 5, title 10.
RANK_WEIGHTS = "{0.1,0.2,0.5,1.0}"
# ts_rank normalisation 1: divide by 1 + log(document length), as bm25 favours short texts.
RANK_NORMALISATION = 1
MAX_POSITION = 16383
MAX_POSITIONS_PER_WORD = 256  # PostgreSQL keeps no more
MAX_WORD_BYTES = 2046  # a longer lexeme is an error; such a "word" is noise anyway
BATCH = 500

_UPSERT = f"""
INSERT INTO {FTS_TABLE} (article_id, document) VALUES (:id, CAST(:document AS tsvector))
ON CONFLICT (article_id) DO UPDATE SET document = excluded.document
"""


# --- documents ------------------------------------------------------------------


def _quote(word: str) -> str:
    # Words are letters and digits only; escaping keeps any other input data.
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def document(
    title: str | None, lead: str | None, body: Iterable[str], captions: Iterable[str | None]
) -> str:
    """The tsvector (as text) of an article's folded words, with positions and weights."""
    fields = (("title", [title]), ("lead", [lead]), ("captions", captions), ("body", body))
    positions: dict[str, list[str]] = {}
    position = 0
    for name, texts in fields:
        weight = WEIGHTS[name]
        # Paragraphs follow each other (a newline parts words, as in the SQLite index).
        words = tokens("\n".join(value for value in texts if value))
        for at, word in enumerate(words, position + 1):
            seen = positions.get(word)
            if seen is None:
                if len(word) * 4 > MAX_WORD_BYTES and len(word.encode()) > MAX_WORD_BYTES:
                    continue
                seen = positions[word] = []
            if len(seen) < MAX_POSITIONS_PER_WORD:
                seen.append(f"{min(at, MAX_POSITION)}{weight}")
        position += len(words) + 1  # the gap between fields
    return " ".join(f"{_quote(word)}:{','.join(at)}" for word, at in positions.items())


def index_document(
    session: Session | Connection,
    article_id: int,
    title: str | None,
    lead: str | None,
    body: Sequence[str],
    captions: Sequence[str | None],
) -> None:
    """Write one article's row of the index from its fields."""
    session.execute(
        text(_UPSERT), {"id": article_id, "document": document(title, lead, body, captions)}
    )


def index_article(session: Session | Connection, article_id: int) -> None:
    """(Re)write one article's row of the index from its current stored version."""
    _index_batch(session, [article_id])


def rebuild_index(conn: Session | Connection) -> int:
    """Rebuild the whole index from the articles table; how many articles it holds.

    Reads the articles by id in batches, so memory does not grow with the archive.
    """
    conn.execute(text(f"DELETE FROM {FTS_TABLE}"))
    last = 0
    while True:
        ids = list(
            conn.execute(
                text("SELECT id FROM articles WHERE id > :last ORDER BY id LIMIT :n"),
                {"last": last, "n": BATCH},
            ).scalars()
        )
        if not ids:
            break
        _index_batch(conn, ids)
        last = ids[-1]
    return int(conn.execute(text(f"SELECT count(*) FROM {FTS_TABLE}")).scalar_one())


def _index_batch(conn: Session | Connection, ids: Sequence[int]) -> None:
    rows = conn.execute(
        text("SELECT id, title, lead, body FROM articles WHERE id = ANY(:ids)"), {"ids": list(ids)}
    ).all()
    captions = _captions(conn, ids)
    params = [
        {
            "id": article_id,
            "document": document(title, lead, _json_list(body), captions.get(article_id, [])),
        }
        for article_id, title, lead, body in rows
    ]
    if params:
        conn.execute(text(_UPSERT), params)


def _json_list(value: Any) -> list[str]:
    # psycopg returns json columns decoded; text() gives no type to decode with otherwise.
    if isinstance(value, str):
        value = json.loads(value)
    return [str(item) for item in value or []]


def _captions(conn: Session | Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    if not ids:
        return found
    rows = conn.execute(
        text(
            "SELECT article_id, caption FROM images WHERE article_id = ANY(:ids) "
            "AND caption IS NOT NULL ORDER BY article_id, position"
        ),
        {"ids": list(ids)},
    )
    for article_id, caption in rows:
        found.setdefault(article_id, []).append(caption)
    return found


# --- queries --------------------------------------------------------------------


def _operand(term: Term) -> str | None:
    """A term as tsquery text; None for one that matches nothing.

    A word that folds to nothing (a stray accent) is no word, as in the SQLite
    index; a term of no word at all matches no article there either.
    """
    words = [word for word in term.words if word]
    if not words:
        return None
    weight = WEIGHTS[term.field] if term.field else ""
    lexemes = []
    for i, word in enumerate(words):
        label = ("*" if term.prefix and i == len(words) - 1 else "") + weight
        # PostgreSQL refuses longer lexemes; documents have none, so it matches nothing.
        word = word.encode()[:MAX_WORD_BYTES].decode(errors="ignore")
        lexemes.append(_quote(word) + (f":{label}" if label else ""))
    return " <-> ".join(lexemes)


def tsquery(query: Query) -> str | None:
    """The tsquery (as text) of a parsed query; None when it can match no article.

    Only quoted folded words and operators: nothing the reader typed is syntax.
    """
    groups = []
    for group in query.groups:
        alternatives = [op for op in map(_operand, group) if op is not None]
        if not alternatives:
            return None
        groups.append("(" + " | ".join(alternatives) + ")")
    expression = " & ".join(groups)
    for term in query.excluded:
        operand = _operand(term)
        if operand is not None:
            expression = f"{expression} & !({operand})"
    return expression


def matching_ids(query: Query) -> tuple[str, dict[str, Any]]:
    """SQL selecting the ids of the articles matching a parsed query, and its parameters."""
    expression = tsquery(query)
    if expression is None:
        return f"SELECT article_id FROM {FTS_TABLE} WHERE false", {}
    sql = f"SELECT article_id FROM {FTS_TABLE} WHERE document @@ CAST(:tsquery AS tsquery)"
    return sql, {"tsquery": expression}


def run_search(
    session: Session,
    query: Query,
    filters: Filters,
    limit: int,
    highlight: tuple[str, str] = ("[", "]"),
    window: int | None = RANK_WINDOW,
) -> SearchResults:
    """The best-ranked articles for a parsed query, best first, with snippets: of all
    matches, or of the newest `window` of them when more match (as on SQLite)."""
    expression = tsquery(query)
    if expression is None:
        return SearchResults(window=window, windowed=False)
    where = ["f.document @@ q.query"]
    params: dict[str, Any] = {"tsquery": expression, "limit": limit}
    for column, value, op in (
        ("portal_id", filters.portal_id, "="),
        ("section", filters.section, "="),
        ("published_date", filters.since, ">="),
        ("published_date", filters.until, "<="),
    ):
        if value is not None:
            name = f"p{len(params)}"
            where.append(f"a.{column} {op} :{name}")
            params[name] = value
    matches = f"""
        FROM {FTS_TABLE} AS f JOIN articles AS a ON a.id = f.article_id
        JOIN portals AS p ON p.id = a.portal_id,
        CAST(:tsquery AS tsquery) AS q (query)
    """
    floor = None
    if window is not None:
        floor_sql = f"""
            SELECT a.id {matches} WHERE {" AND ".join(where)}
            ORDER BY a.id DESC LIMIT 1 OFFSET :window
        """
        try:
            floor = session.execute(text(floor_sql), {**params, "window": window}).scalar()
        except DBAPIError as exc:
            raise QueryError(f"the search could not run: {exc.orig}") from exc
        if floor is not None:
            where.append("a.id > :floor")
            params["floor"] = floor
    sql = f"""
        SELECT a.id, a.portal_id, p.name AS portal_name, a.url, a.section, a.title,
               a.published, a.lead, a.body, a.removed_at,
               ts_rank('{RANK_WEIGHTS}', f.document, q.query, {RANK_NORMALISATION}) AS score
        {matches}
        WHERE {" AND ".join(where)}
        ORDER BY score DESC, a.id
        LIMIT :limit
    """
    try:
        rows = session.execute(text(sql), params).mappings().all()
    except DBAPIError as exc:
        # Parsing makes this unreachable for any query text; a missing index is not.
        raise QueryError(f"the search could not run: {exc.orig}") from exc
    captions = _captions(session, [row["id"] for row in rows])
    results = SearchResults(window=window, windowed=floor is not None)
    for row in rows:
        fields = [("title", row["title"]), ("lead", row["lead"])]
        fields += [("body", p) for p in _json_list(row["body"])]
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
                "score": round(float(row["score"]), 6),
                "snippet": snippet,
                "snippet_field": where_found,
            }
        )
    return results
