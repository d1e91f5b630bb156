"""Exports: JSON Lines (one article a line) and CSV, streamed in constant memory.

docs/export.md documents the record, field by field; EXPORT_SCHEMA_VERSION is its
version. Rows are read in batches (`yield_per`) and each batch's images and
attachments with one query each, so memory does not grow with the archive.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import ColumnElement, Select, column, select, table, text
from sqlalchemy.engine import Connection, Row

from archive import search_pg
from archive.errors import ArchiveError
from archive.models import Article, ArticleRevision, Attachment, Image
from archive.query import Query, parse_query
from archive.storage import CREDIT_KEYS, GOLD_KEYS, _check_date, _nfc

if TYPE_CHECKING:
    from archive.storage import Archive

# 1: gold keys + portal, content_hash, first_seen_at, last_seen_at.
# 2: + revision, removed_at, observed_at, current; CSV; revisions and filters.
EXPORT_SCHEMA_VERSION = 2

# New keys go at the end: readers of older exports keep working.
EXPORT_KEYS = (
    *GOLD_KEYS,
    "portal",
    "content_hash",
    "first_seen_at",
    "last_seen_at",
    "revision",
    "removed_at",
    "observed_at",
    "current",
)
FORMATS = ("jsonl", "csv")
BATCH = 1000


@dataclass(frozen=True)
class ExportFilter:
    """Which articles to export. Every filter applies to the article's current version.

    since/until: YYYY-MM-DD, inclusive, on the portal's local publication date.
    query: a search query (archive.query syntax). include_revisions: one record per
    revision instead of the current version only. include_removed: also articles
    the portal no longer serves.
    """

    portal_id: str | None = None
    section: str | None = None
    since: str | None = None
    until: str | None = None
    query: str | None = None
    include_revisions: bool = False
    include_removed: bool = True


def iter_records(archive: Archive, filters: ExportFilter | None = None) -> Iterator[dict[str, Any]]:
    """Export records (EXPORT_KEYS, in order) by portal, then publication, then revision."""
    filters = filters or ExportFilter()
    _check_date("since", filters.since)
    _check_date("until", filters.until)
    parsed = parse_query(filters.query) if filters.query is not None else None
    with archive.engine.connect() as conn:
        fts = _matching(conn.dialect.name, parsed) if parsed is not None else None
        if filters.include_revisions:
            yield from _revisions(conn, filters, fts)
        else:
            yield from _current(conn, filters, fts)


def _matching(dialect: str, query: Query) -> ColumnElement[bool]:
    """`articles.id IN (the articles the search index matches)`, in the dialect's words."""
    a = Article.__table__.c
    if dialect == "postgresql":
        sql, params = search_pg.matching_ids(query)
        return a.id.in_(text(sql).bindparams(**params).columns(column("article_id")))
    index = table("articles_fts", column("rowid"))
    match = text("articles_fts MATCH :fts").bindparams(fts=query.fts())
    return a.id.in_(select(index.c.rowid).where(match))


def _filtered(
    stmt: Select[Any], filters: ExportFilter, fts: ColumnElement[bool] | None
) -> Select[Any]:
    a = Article.__table__.c
    if filters.portal_id is not None:
        stmt = stmt.where(a.portal_id == filters.portal_id)
    if filters.section is not None:
        stmt = stmt.where(a.section == _nfc(filters.section))
    if filters.since is not None:
        stmt = stmt.where(a.published_date >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(a.published_date <= filters.until)
    if not filters.include_removed:
        stmt = stmt.where(a.removed_at.is_(None))
    if fts is not None:
        stmt = stmt.where(fts)
    return stmt.order_by(a.portal_id, a.published.asc().nulls_last(), a.id)


def _current(
    conn: Connection, filters: ExportFilter, fts: ColumnElement[bool] | None
) -> Iterator[dict[str, Any]]:
    a, r = Article.__table__.c, ArticleRevision.__table__
    stmt = select(
        a.id, a.url, a.section, a.title, a.published, a.lead, a.body, a.credit,
        a.portal_id, a.content_hash, a.first_seen_at, a.last_seen_at, a.revision,
        a.removed_at, r.c.observed_at,
    ).select_from(
        Article.__table__.outerjoin(
            r, (r.c.article_id == a.id) & (r.c.revision == a.revision)
        )
    )  # fmt: skip
    result = conn.execution_options(yield_per=BATCH).execute(_filtered(stmt, filters, fts))
    for rows in result.partitions():
        ids = [row.id for row in rows]
        images = _children(conn, Image.__table__, ids, ("src", "caption"))
        attachments = _children(conn, Attachment.__table__, ids, ("url", "name"))
        for row in rows:
            yield _record(
                row,
                images.get(row.id, []),
                attachments.get(row.id, []),
                content_hash=row.content_hash,
                current=True,
            )


def _revisions(
    conn: Connection, filters: ExportFilter, fts: ColumnElement[bool] | None
) -> Iterator[dict[str, Any]]:
    a, r = Article.__table__.c, ArticleRevision.__table__.c
    stmt = select(
        r.url, r.section, r.title, r.published, r.lead, r.body, r.credit, r.images,
        r.attachments, r.content_hash, r.revision, r.observed_at, a.portal_id,
        a.first_seen_at, a.last_seen_at, a.removed_at, a.revision.label("latest"),
    ).select_from(
        ArticleRevision.__table__.join(Article.__table__, a.id == r.article_id)
    )  # fmt: skip
    stmt = _filtered(stmt, filters, fts).order_by(r.revision)
    for row in conn.execution_options(yield_per=BATCH).execute(stmt):
        yield _record(
            row,
            row.images or [],
            row.attachments or [],
            content_hash=row.content_hash,
            current=row.revision == row.latest,
        )


def _children(
    conn: Connection, child: Any, ids: Sequence[int], fields: tuple[str, str]
) -> dict[int, list[dict[str, Any]]]:
    stmt = (
        select(child.c.article_id, *(child.c[name] for name in fields))
        .where(child.c.article_id.in_(ids))
        .order_by(child.c.article_id, child.c.position)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for article_id, first, second in conn.execute(stmt):
        found.setdefault(article_id, []).append({fields[0]: first, fields[1]: second})
    return found


def _record(
    row: Row[Any],
    images: list[dict[str, Any]],
    attachments: list[dict[str, Any]],
    *,
    content_hash: str,
    current: bool,
) -> dict[str, Any]:
    credit = row.credit
    return {
        "url": row.url,
        "section": row.section,
        "title": row.title,
        "published": row.published,
        "lead": row.lead,
        "body": list(row.body or []),
        "images": images,
        "credit": None if credit is None else {key: credit.get(key) for key in CREDIT_KEYS},
        "attachments": attachments,
        "portal": row.portal_id,
        "content_hash": content_hash,
        "first_seen_at": row.first_seen_at,
        "last_seen_at": row.last_seen_at,
        "revision": row.revision,
        "removed_at": row.removed_at,
        "observed_at": row.observed_at,
        "current": current,
    }


# --- writers ------------------------------------------------------------------


def write_export(
    archive: Archive, out: TextIO, fmt: str = "jsonl", filters: ExportFilter | None = None
) -> int:
    """Write the selected records to `out` as JSON Lines or CSV; return how many."""
    if fmt not in FORMATS:
        raise ArchiveError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    records = iter_records(archive, filters)
    return _write_csv(records, out) if fmt == "csv" else _write_jsonl(records, out)


def export_jsonl(
    archive: Archive,
    out: TextIO,
    *,
    portal_id: str | None = None,
    since: str | None = None,
    include_removed: bool = True,
    **more: Any,
) -> int:
    """Write the archive's articles (current versions) to `out` as JSON Lines; how many.

    Keyword arguments are those of ExportFilter. Articles the portal removed are
    written with `removed_at` set, unless `include_removed` is False.
    """
    filters = ExportFilter(
        portal_id=portal_id, since=since, include_removed=include_removed, **more
    )
    return write_export(archive, out, "jsonl", filters)


def export_csv(archive: Archive, out: TextIO, **filters: Any) -> int:
    """Write the selected articles to `out` as CSV (a header row of EXPORT_KEYS); how many."""
    return write_export(archive, out, "csv", ExportFilter(**filters))


def _write_jsonl(records: Iterator[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


# Paragraphs are joined by a blank line (text never holds one: white space is folded);
# the nested fields are JSON text.
_CSV_JSON = ("images", "credit", "attachments")


def csv_row(record: dict[str, Any]) -> list[Any]:
    """One record as a CSV row of EXPORT_KEYS."""
    cells: list[Any] = []
    for key in EXPORT_KEYS:
        value = record[key]
        if key == "body":
            value = "\n\n".join(value)
        elif key in _CSV_JSON:
            value = "" if value is None else json.dumps(value, ensure_ascii=False)
        elif key == "current":
            value = "true" if value else "false"
        cells.append("" if value is None else value)
    return cells


def _write_csv(records: Iterator[dict[str, Any]], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_KEYS)
    count = 0
    for record in records:
        writer.writerow(csv_row(record))
        count += 1
    return count


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON Lines file back (blank lines skipped)."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Read a CSV export back into records like the JSON Lines ones."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    records = []
    for row in rows:
        record: dict[str, Any] = {}
        for key in EXPORT_KEYS:
            value: Any = row[key]
            if key == "body":
                value = value.split("\n\n") if value else []
            elif key in _CSV_JSON:
                value = json.loads(value) if value else None
            elif key == "revision":
                value = int(value)
            elif key == "current":
                value = value == "true"
            elif value == "":
                value = None
            record[key] = value
        records.append(record)
    return records
