"""JSON Lines export: one article a line, gold keys first, in gold order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from archive.storage import GOLD_KEYS

if TYPE_CHECKING:
    from archive.storage import Archive

# New keys go at the end: readers of older exports keep working.
EXPORT_KEYS = (
    *GOLD_KEYS,
    "portal",
    "content_hash",
    "first_seen_at",
    "last_seen_at",
    "revision",
    "removed_at",
)


def export_jsonl(
    archive: Archive,
    out: TextIO,
    *,
    portal_id: str | None = None,
    since: str | None = None,
    include_removed: bool = True,
) -> int:
    """Write the archive's articles (current versions) to `out`; return how many.

    `since` (YYYY-MM-DD, inclusive) keeps articles published on or after that
    date. Articles the portal removed are written with `removed_at` set, unless
    `include_removed` is False. `revision` is how many versions the archive holds.
    """
    count = 0
    articles = archive.iter_articles(
        portal_id=portal_id, since=since, include_removed=include_removed
    )
    for article in articles:
        line = {key: article[key] for key in EXPORT_KEYS}
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        count += 1
    return count


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON Lines file back (blank lines skipped)."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
