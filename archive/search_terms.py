"""How many indexed articles hold each word: `articles_fts_terms`, kept in step with the index.

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
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

TERMS_TABLE = "articles_fts_terms"
CREATE_TERMS = (
    f"CREATE TABLE IF NOT EXISTS {TERMS_TABLE} "
    "(term TEXT PRIMARY KEY, documents INTEGER NOT NULL) WITHOUT ROWID"
)

_VOCAB = "temp.articles_fts_vocabulary"
_PROBE = "temp.articles_fts_probe"
_PROBE_TERMS = "temp.articles_fts_probe_terms"

_ADD = f"""
INSERT INTO {TERMS_TABLE} (term, documents)
SELECT value, :delta FROM json_each(:terms) WHERE true
ON CONFLICT (term) DO UPDATE SET documents = documents + excluded.documents
"""
_DROP_EMPTY = f"""
DELETE FROM {TERMS_TABLE}
WHERE documents <= 0 AND term IN (SELECT value FROM json_each(:terms))
"""

_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")


def count_all(conn: Connection | Session, fts_table: str) -> None:
    """Fill the table from the whole index (a read of all of it: ~30 s a million articles)."""
    conn.execute(text(CREATE_TERMS))
    conn.execute(
        text(f"CREATE VIRTUAL TABLE IF NOT EXISTS {_VOCAB} USING fts5vocab(main, {fts_table}, row)")
    )
    conn.execute(text(f"DELETE FROM {TERMS_TABLE}"))
    conn.execute(
        text(f"INSERT INTO {TERMS_TABLE} (term, documents) SELECT term, doc FROM {_VOCAB}")
    )


def count_document(
    session: Session, columns: Sequence[str | None], delta: int, tokenize: str
) -> None:
    """Count one indexed document's words up (delta 1) or down (-1, dropping zeros)."""
    words = _plain_words(columns)
    if words is None:
        words = _fts5_words(session, columns, tokenize)
    if not words:
        return
    params = {"terms": json.dumps(sorted(words)), "delta": delta}
    session.execute(text(_ADD), params)
    if delta < 0:
        session.execute(text(_DROP_EMPTY), params)


@lru_cache(maxsize=4096)
def _separates(char: str) -> bool:
    # Punctuation, spaces and symbols separate words for unicode61, whatever the
    # Unicode version of its tables; letters and digits beyond ASCII ("²") may not.
    return unicodedata.category(char)[0] in "PZS"


def _plain_words(columns: Iterable[str | None]) -> set[str] | None:
    """The words of text unicode61 splits at ASCII letters and digits only; else None."""
    joined = "\n".join(value for value in columns if value)
    if not joined.isascii() and not all(char.isascii() or _separates(char) for char in set(joined)):
        return None
    return set(_ASCII_WORD.findall(joined.lower()))


def _fts5_words(session: Session, columns: Sequence[str | None], tokenize: str) -> list[str]:
    # Created in the writing transaction, so a rollback cannot leave them half made.
    session.execute(
        text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {_PROBE} USING fts5("
            f"title, lead, body, captions, content = '', {tokenize})"
        )
    )
    session.execute(
        text(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {_PROBE_TERMS} "
            "USING fts5vocab(temp, articles_fts_probe, row)"
        )
    )
    values: dict[str, Any] = dict(zip(("title", "lead", "body", "captions"), columns, strict=True))
    session.execute(
        text(
            f"INSERT INTO {_PROBE} (rowid, title, lead, body, captions) "
            "VALUES (1, :title, :lead, :body, :captions)"
        ),
        values,
    )
    words = list(session.execute(text(f"SELECT term FROM {_PROBE_TERMS}")).scalars())
    session.execute(text(f"INSERT INTO {_PROBE} (articles_fts_probe) VALUES ('delete-all')"))
    return words
