"""Bulk parsing: many saved pages in one process, one JSON line per page, in order.

`portal-archive parse --batch LIST.tsv` reads tab-separated lines ``FILE<TAB>URL[<TAB>
CONTENT-TYPE]`` (blank lines and lines starting with ``#`` are skipped) and prints, for
each page, the Article as one JSON object; a page that cannot be read or is not an
article gives a line with an ``"error"`` key, so that output lines match input lines.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from portal_crawler.parsing import parse_article
from portal_crawler.parsing.article import Article, missing_fields
from portal_crawler.profiles import Profile, ProfileError, get_profile, profile_for_url


def not_an_article(article: Article) -> str | None:
    """Why a parsed page is not an article (no title, body or date), or None."""
    problems = missing_fields(article)
    return "not an article: " + ", ".join(problems) if problems else None


def _entries(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        yield number, [field.strip() for field in line.split("\t")]


def parse_entry(
    fields: list[str], *, profile: Profile | None = None, section: str | None = None
) -> dict[str, Any]:
    """One TSV entry to its output object (never raises)."""
    if len(fields) < 2 or not fields[0] or not fields[1]:
        return {"file": fields[0] if fields else "", "error": "expected FILE<TAB>URL[<TAB>TYPE]"}
    path, url = fields[0], fields[1]
    headers = {"content-type": fields[2]} if len(fields) > 2 and fields[2] else {}
    try:
        body = Path(path).read_bytes()
    except OSError as exc:
        return {"file": path, "url": url, "error": f"cannot read file: {exc.strerror or exc}"}
    try:
        chosen = profile if profile is not None else profile_for_url(url)
    except ProfileError as exc:
        return {"file": path, "url": url, "error": str(exc)}
    article = parse_article(url, body, headers, profile=chosen, section=section)
    record = article.to_dict()
    problem = not_an_article(article)
    if problem:
        record["error"] = problem
    return record


def run_batch(
    list_path: str,
    *,
    portal: str | None = None,
    section: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Parse every page listed in ``list_path`` ("-" for stdin); 0 when all are articles."""
    out = out or sys.stdout
    try:
        profile = get_profile(portal) if portal else None
    except ProfileError as exc:
        print(f"portal-archive: error: {exc}", file=sys.stderr)
        return 2
    try:
        handle = sys.stdin if list_path == "-" else open(list_path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        print(f"portal-archive: error: cannot read {list_path}: {exc.strerror}", file=sys.stderr)
        return 2
    failed = 0
    with handle:
        for _, fields in _entries(handle):
            record = parse_entry(fields, profile=profile, section=section)
            failed += "error" in record
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 1 if failed else 0
