"""bm25 without reading whole posting lists: the archive's word counts fed to FTS5.

FTS5's bm25() starts each query by counting the articles that hold each of its
phrases, reading the phrase's whole posting list. For common Vietnamese syllables
("thôn", "xã", "quốc") that is most of a search at a million articles. The archive
keeps those counts for single words, in any field and per field (but the body),
in `articles_fts_terms` (archive.search_terms), and the compiled function `bm25_df`
(archive/_bm25.c) takes them as an argument and otherwise computes what bm25()
computes, to the same bits. Phrases of several words, prefixes and words tied to
the body are still counted by FTS5, as bm25() would.

The function needs the compiled module. Where it could not be built or installed
(no C compiler at install time, a Python whose sqlite3 module does not expose its
library), searches run bm25() itself: same results, slower on large archives.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from archive.query import Query, Term
from archive.search_terms import COUNTED_FIELDS

log = logging.getLogger("archive")

try:
    from archive import _bm25  # type: ignore[attr-defined]
except ImportError:  # not built: bm25() is used instead
    _bm25 = None

INFO_KEY = "bm25_df"

# _bm25 reads the sqlite3 handle from the start of CPython's Connection object, a
# layout these versions share; elsewhere (PyPy, a future CPython) it stays unused.
_KNOWN_LAYOUT = sys.implementation.name == "cpython" and (3, 8) <= sys.version_info[:2] <= (3, 14)


def available() -> bool:
    """Whether the compiled module was built with this installation."""
    return _bm25 is not None


def install(dbapi_connection: Any) -> bool:
    """Register bm25_df on a sqlite3 connection; False (and bm25() is used) if it cannot be."""
    if _bm25 is None or not _KNOWN_LAYOUT or type(dbapi_connection) is not sqlite3.Connection:
        return False
    import _sqlite3

    # SQLite is called through the library the sqlite3 module itself loaded.
    library = getattr(_sqlite3, "__file__", None)
    if library is None:  # built into the interpreter
        return False
    row = dbapi_connection.execute("PRAGMA database_list").fetchone()
    main_file = (row[2] if row else "") or ""
    try:
        return bool(_bm25.install(dbapi_connection, sqlite3.Connection, library, main_file))
    except (TypeError, OSError) as exc:  # a Python build laid out otherwise
        log.debug("bm25_df not installed: %s", exc)
        return False


def installed(session: Session) -> bool:
    """Whether the session's connection has bm25_df (see `install`)."""
    return bool(session.connection().connection.info.get(INFO_KEY))


def _counted_word(term: Term) -> tuple[str, str] | None:
    """The (index token, field or '*') whose count stands for this term's, or None when
    FTS5 must count the term itself (a phrase, a prefix, a word FTS5 may split, a field
    not counted)."""
    if len(term.words) != 1 or term.prefix:
        return None
    if term.field is not None and term.field not in COUNTED_FIELDS:
        return None
    word = term.words[0]
    # A folded ASCII word of letters and digits is one unicode61 token, unchanged.
    if not (word.isascii() and word.isalnum()):
        return None
    return word, term.field or "*"


def ranking(
    session: Session, query: Query, fts_table: str, terms_table: str, weights: tuple[float, ...]
) -> tuple[str, dict[str, Any]]:
    """(SQL expression, parameters) scoring a match of `query` as bm25() does, best lowest.

    Phrases are numbered as FTS5 numbers them in `query.fts()`: the groups' terms in
    order, then the exclusions.
    """
    weights_sql = ", ".join(map(str, weights))
    if not installed(session):
        return f"bm25({fts_table}, {weights_sql})", {}
    phrases = [term for group in query.groups for term in group] + list(query.excluded)
    keys = [_counted_word(term) for term in phrases]
    wanted = sorted({key[0] for key in keys if key is not None})
    counts: dict[tuple[str, str], int] = {}
    if wanted:
        rows = session.execute(
            text(
                f"SELECT term, field, documents FROM {terms_table} WHERE term IN :words"
            ).bindparams(bindparam("words", expanding=True)),
            {"words": wanted},
        )
        counts = {(term, field): documents for term, field, documents in rows}
    # A word absent from the table is in no article (or not in that field): 0.
    listed = ",".join("" if key is None else str(counts.get(key, 0)) for key in keys)
    return f"bm25_df({fts_table}, :document_counts, {weights_sql})", {"document_counts": listed}
