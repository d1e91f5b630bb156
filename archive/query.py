"""A reader's search words, parsed into a safe FTS5 expression.

The query is data: every word is folded and re-emitted inside double quotes, so no
character of it can become FTS5 syntax (NEAR, column filters, `^`, parentheses) or
SQL (the expression is a bound parameter). What the reader can use:

- words: all must match (`dan van kheo`); folding makes accents optional;
- `"a phrase"`: those words in that order (an unclosed quote runs to the end);
- `word*` / `"a phr"*`: prefix of the (last) word;
- `OR` between two items: either (`covid OR dịch`);
- `-word` / `-"a phrase"` / `NOT word`: leave out articles that have it;
- `title:word`, `lead:`, `body:`, `captions:`: only in that field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from archive.errors import ArchiveError
from archive.folding import tokens

FIELDS = ("title", "lead", "body", "captions")
MAX_QUERY_CHARS = 1000
MAX_TERMS = 64

# One item: an optional "-", an optional "field:", then a quoted phrase or a bare word.
_PIECE = re.compile(
    r'\s*(?:(?P<neg>-)?(?:(?P<field>[A-Za-z]+):)?(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+)))'
)


class QueryError(ArchiveError):
    """A search query that cannot be run: the message says why, for the reader."""


@dataclass(frozen=True)
class Term:
    """One thing to look for: a word or a phrase of folded words."""

    words: tuple[str, ...]
    prefix: bool = False
    field: str | None = None

    def expression(self) -> str:
        quoted = '"' + " ".join(self.words) + '"' + ("*" if self.prefix else "")
        return f"{self.field} : {quoted}" if self.field else quoted


@dataclass
class Query:
    """A parsed query: groups that must all match (each a list of alternatives), exclusions."""

    text: str
    groups: list[list[Term]] = field(default_factory=list)
    excluded: list[Term] = field(default_factory=list)

    @property
    def terms(self) -> list[Term]:
        """What the reader looks for (exclusions left out): what snippets highlight."""
        return [term for group in self.groups for term in group]

    def fts(self) -> str:
        """The FTS5 MATCH expression: only quoted folded words, operators and parentheses."""
        parts = []
        for group in self.groups:
            inner = " OR ".join(term.expression() for term in group)
            parts.append(f"({inner})" if len(group) > 1 else inner)
        expression = " AND ".join(parts)
        for term in self.excluded:
            expression = f"({expression}) NOT {term.expression()}"
        return expression


def parse_query(text: str) -> Query:
    """Parse a reader's query, or raise QueryError with a message saying what is wrong."""
    if not isinstance(text, str):
        raise QueryError("the search query must be text")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"the search query is too long (over {MAX_QUERY_CHARS} characters)")
    if "\x00" in text:
        raise QueryError("the search query contains a NUL character")
    query = Query(text=text)
    pending_or = False
    negate_next = False
    count = 0
    for match in _PIECE.finditer(text):
        raw_word = match.group("word")
        if raw_word in ("OR", "AND", "NOT") and not match.group("neg") and not match.group("field"):
            # Operators only as written in capitals, like FTS5 itself.
            pending_or = raw_word == "OR" and bool(query.groups)
            negate_next = raw_word == "NOT"
            continue
        term = _term(match)
        if term is None:
            continue
        count += 1
        if count > MAX_TERMS:
            raise QueryError(f"the search query has too many words (over {MAX_TERMS})")
        if match.group("neg") or negate_next:
            query.excluded.append(term)
        elif pending_or:
            query.groups[-1].append(term)
        else:
            query.groups.append([term])
        pending_or = negate_next = False
    if not query.groups:
        if query.excluded:
            raise QueryError("a search needs at least one word to look for, not only exclusions")
        raise QueryError(f"nothing to search for in {text!r}: give at least one word")
    return query


def _term(match: re.Match[str]) -> Term | None:
    field_name = match.group("field")
    phrase = match.group("phrase")
    raw = phrase if phrase is not None else match.group("word") or ""
    if field_name is not None and field_name.lower() not in FIELDS:
        # Not a field: "covid:19" or "http://…" is just more words.
        raw = f"{field_name}:{raw}"
        field_name = None
    prefix = False
    if phrase is None:
        prefix = raw.endswith("*")
    else:
        # `"a phr"*`: the star follows the closing quote.
        end = match.end()
        prefix = match.string[end : end + 1] == "*"
    words = tuple(tokens(raw))
    if not words:
        return None
    return Term(words=words, prefix=prefix, field=field_name.lower() if field_name else None)
