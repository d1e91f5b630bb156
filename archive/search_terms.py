"""How many indexed articles hold each word: `articles_fts_terms`, kept in step with the index.

One row per word in any field (`field` '*'), and one per word and field it occurs
in for the title, lead and captions, as fts5vocab's 'row' and 'col' tables count
them. Not for the body: it holds nearly every word of an article, so counting it
too would double the writes, for the rare `body:` query (FTS5 counts those).

bm25 needs these counts, and FTS5 would get them at every search by reading each
query word's whole posting list (archive.bm25). The words must be exactly FTS5's
own tokens of the indexed (folded) text, or scores would drift from bm25()'s:

- text whose only non-ASCII characters are punctuation, spaces and symbols (most
  folded Vietnamese: “ ” – … °) is split here, as unicode61 splits it: runs of
  ASCII letters and digits, lower-cased;
- any other text is tokenized by FTS5 itself, in a one-row contentless index of
  the same tokenizer (per connection, in the temp schema).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from archive.query import FIELDS  # the index's columns, in order

TERMS_TABLE = "articles_fts_terms"
CREATE_TERMS = (
    f"CREATE TABLE IF NOT EXISTS {TERMS_TABLE} (term TEXT NOT NULL, field TEXT NOT NULL, "
    "documents INTEGER NOT NULL, PRIMARY KEY (term, field)) WITHOUT ROWID"
)
ANY_FIELD = "*"
COUNTED_FIELDS = ("title", "lead", "captions")
_COUNTED = ", ".join(f"'{field}'" for field in COUNTED_FIELDS)

_VOCAB_ROWS = "temp.articles_fts_vocabulary"
_VOCAB_FIELDS = "temp.articles_fts_vocabulary_fields"
_PROBE = "temp.articles_fts_probe"
_PROBE_ROWS = "temp.articles_fts_probe_terms"
_PROBE_FIELDS = "temp.articles_fts_probe_fields"

# One JSON array of words per counted field and one for any field.
_WORDS = " UNION ALL ".join(
    f"SELECT value AS term, '{field}' AS field FROM json_each(:{key})"
    for key, field in (("any", ANY_FIELD), *((f, f) for f in COUNTED_FIELDS))
)
_ADD = f"""
INSERT INTO {TERMS_TABLE} (term, field, documents)
SELECT term, field, :delta FROM ({_WORDS}) WHERE true
ON CONFLICT (term, field) DO UPDATE SET documents = documents + excluded.documents
"""
_DROP_EMPTY = f"""
DELETE FROM {TERMS_TABLE}
WHERE documents <= 0 AND term IN (SELECT value FROM json_each(:any))
"""

_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")


def count_all(conn: Connection | Session, fts_table: str) -> None:
    """Fill the table from the whole index (two reads of all of it: about a minute for
    a million articles)."""
    conn.execute(text(CREATE_TERMS))
    _vocabularies(conn, f"main, {fts_table}", _VOCAB_ROWS, _VOCAB_FIELDS)
    conn.execute(text(f"DELETE FROM {TERMS_TABLE}"))
    conn.execute(
        text(
            f"INSERT INTO {TERMS_TABLE} (term, field, documents) "
            f"SELECT term, '{ANY_FIELD}', doc FROM {_VOCAB_ROWS} "
            f"UNION ALL SELECT term, col, doc FROM {_VOCAB_FIELDS} WHERE col IN ({_COUNTED})"
        )
    )


def _vocabularies(conn: Connection | Session, index: str, rows: str, fields: str) -> None:
    """fts5vocab tables of an FTS5 index ("schema, table"): per word (`rows`), and per
    word and column (`fields`)."""
    for name, kind in ((rows, "row"), (fields, "col")):
        conn.execute(
            text(f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING fts5vocab({index}, {kind})")
        )


def count_document(
    session: Session, columns: Sequence[str | None], delta: int, tokenize: str
) -> None:
    """Count one indexed document's words up (delta 1) or down (-1, dropping zeros).

    `columns` are its title, lead, body and captions as indexed (folded)."""
    words = _plain_words(columns)
    if words is None:
        words = _fts5_words(session, columns, tokenize)
    if not words[ANY_FIELD]:
        return
    params: dict[str, Any] = {
        ("any" if field == ANY_FIELD else field): json.dumps(list(found), ensure_ascii=False)
        for field, found in words.items()
    }
    params["delta"] = delta
    session.execute(text(_ADD), params)
    if delta < 0:
        session.execute(text(_DROP_EMPTY), params)


@lru_cache(maxsize=4096)
def _separates(char: str) -> bool:
    # Punctuation, spaces and symbols separate words for unicode61, whatever the
    # Unicode version of its tables; letters and digits beyond ASCII ("²") may not.
    return unicodedata.category(char)[0] in "PZS"


def _plain_words(columns: Sequence[str | None]) -> dict[str, set[str]] | None:
    """The words of any field ('*') and of each counted field, for text unicode61 splits
    at ASCII letters and digits only; None for other text."""
    joined = "\n".join(value for value in columns if value)
    if not joined.isascii() and not all(char.isascii() or _separates(char) for char in set(joined)):
        return None
    words = {ANY_FIELD: set(_ASCII_WORD.findall(joined.lower()))}
    for field, value in zip(FIELDS, columns, strict=True):
        if field in COUNTED_FIELDS:
            words[field] = set(_ASCII_WORD.findall(value.lower())) if value else set()
    return words


def _fts5_words(
    session: Session, columns: Sequence[str | None], tokenize: str
) -> dict[str, set[str]]:
    """The words of any field ('*') and of each counted field, as FTS5 tokenizes them."""
    # Created in the writing transaction, so a rollback cannot leave them half made.
    session.execute(
        text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {_PROBE} USING fts5("
            f"{', '.join(FIELDS)}, content = '', {tokenize})"
        )
    )
    _vocabularies(session, "temp, articles_fts_probe", _PROBE_ROWS, _PROBE_FIELDS)
    values: dict[str, Any] = dict(zip(FIELDS, columns, strict=True))
    session.execute(
        text(
            f"INSERT INTO {_PROBE} (rowid, {', '.join(FIELDS)}) "
            "VALUES (1, :title, :lead, :body, :captions)"
        ),
        values,
    )
    found = session.execute(
        text(
            f"SELECT term, '{ANY_FIELD}' FROM {_PROBE_ROWS} "
            f"UNION ALL SELECT term, col FROM {_PROBE_FIELDS} WHERE col IN ({_COUNTED})"
        )
    )
    words: dict[str, set[str]] = {field: set() for field in (ANY_FIELD, *COUNTED_FIELDS)}
    for term, field in found:
        words[field].add(term)
    session.execute(text(f"INSERT INTO {_PROBE} (articles_fts_probe) VALUES ('delete-all')"))
    return words
