"""Vietnamese folding for search: what a reader types without diacritics still matches.

The same function prepares the indexed documents and the queries, so "Nguyễn Đức",
"nguyen duc" and "NGUYỄN ĐỨC" all become "nguyen duc". SQLite's own
`remove_diacritics` folds tone marks but keeps "đ" as a letter of its own, which
is why the archive folds in Python and indexes the folded text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# "đ" is a letter of its own in Unicode, not "d" with a mark: NFD leaves it whole.
_LETTERS = str.maketrans({"đ": "d", "Đ": "D"})

# What FTS5's unicode61 tokenizer treats as token characters, near enough: letters and
# digits (not "_"), plus combining marks so that a stray decomposed mark stays inside
# its word, as it does once folded away.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_TOKEN = re.compile(rf"(?:[^\W_]|[{_MARKS}])+")


def fold(text: str) -> str:
    """NFC, then tone and vowel marks removed, "đ"/"Đ" as "d", then case-folded."""
    text = unicodedata.normalize("NFC", text)
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFD", text.translate(_LETTERS))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", bare).casefold()


# Words repeat (Vietnamese has a few thousand syllables): highlighting the results of
# a search folds every word of them, and folding one is far slower than a lookup.
_fold_word = lru_cache(maxsize=65_536)(fold)


def fold_or_none(text: str | None) -> str | None:
    """`fold` for SQL: NULL stays NULL (registered as the SQLite function vn_fold)."""
    return None if text is None else fold(str(text))


def tokens(text: str) -> list[str]:
    """The folded words of a text, as the search index sees them."""
    return [_fold_word(match.group(0)) for match in _TOKEN.finditer(text)]


def token_spans(text: str, pos: int = 0) -> Iterator[tuple[int, int, str]]:
    """(start, end, folded word) for each word of the original text from `pos`, in order."""
    for match in _TOKEN.finditer(text, pos):
        yield match.start(), match.end(), _fold_word(match.group(0))
