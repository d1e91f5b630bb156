"""Offline re-parsing, archive side: the raw captures to re-parse, and the result applied.

The parser lives elsewhere (the archive knows nothing of it): a caller reads
`reparse_sources`, parses each body, and hands the article to `apply_reparse`.
A re-parse that extracts different fields is recorded as a revision with the
reason "reparse" and the parser version: a better parser, not an edit by the
portal. The article keeps its URL and section (its identity in the archive).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from archive.models import Article, ArticleRevision, Capture, CrawlRun, utc_now
from archive.storage import (
    _apply_content,
    _article_dict,
    _check_since,
    _gold_record,
    _index_article,
    _replace_children,
    _revision_row,
    content_hash,
    decompress,
)

CONTENT_KEYS = ("title", "published", "lead", "body", "images", "credit", "attachments")


@dataclass(frozen=True)
class ReparseSource:
    """One stored article and the raw response its current version was parsed from."""

    article_id: int
    portal_id: str
    url: str  # the article's canonical URL
    section: str | None
    revision: int  # the article's revision when read: a later one is not overwritten
    capture_id: int
    fetched_url: str  # the URL the page was fetched at (the parser's base URL)
    headers: dict[str, str]
    body: bytes
    # The origin the crawl fetched from, when it used a mirror: the body may link to it.
    mirror: str | None = None


def reparse_sources(
    archive: Any, portal_id: str | None = None, since: str | None = None
) -> Iterator[ReparseSource]:
    """Every stored article (of a portal; published on/after `since`) with its raw capture.

    The capture is the one the article's current revision was parsed from, or
    its latest capture if the revision names none. Articles without any capture
    are skipped.
    """
    _check_since(since)
    stmt = select(Article.id).order_by(Article.id)
    if portal_id is not None:
        stmt = stmt.where(Article.portal_id == portal_id)
    if since is not None:
        stmt = stmt.where(Article.published_date >= since)
    with archive._read() as session:  # same package: the archive's own sessions
        ids = list(session.scalars(stmt))
    for article_id in ids:
        with archive._read() as session:
            source = _source(session, article_id)
        if source is not None:
            yield source


def _source(session: Any, article_id: int) -> ReparseSource | None:
    row = session.get(Article, article_id)
    capture_id = session.scalar(
        select(ArticleRevision.capture_id).where(
            ArticleRevision.article_id == article_id, ArticleRevision.revision == row.revision
        )
    )
    capture = session.get(Capture, capture_id) if capture_id is not None else None
    if capture is None:
        capture = session.scalars(
            select(Capture).where(Capture.article_id == article_id).order_by(Capture.id.desc())
        ).first()
    if capture is None:
        return None
    run = session.get(CrawlRun, capture.run_id) if capture.run_id is not None else None
    mirror = (run.args or {}).get("mirror") if run is not None else None
    return ReparseSource(
        article_id=row.id,
        portal_id=row.portal_id,
        url=row.url,
        section=row.section,
        revision=row.revision,
        capture_id=capture.id,
        fetched_url=capture.url,
        headers=dict(capture.headers or {}),
        body=decompress(capture.body, capture.compression),
        mirror=mirror,
    )


def apply_reparse(
    archive: Any,
    source: ReparseSource,
    article: dict[str, Any],
    *,
    parser_version: str,
    run_id: int | None = None,
    dry_run: bool = False,
) -> bool:
    """Record a re-parsed article; True if its fields changed (a "reparse" revision).

    Fields equal to the stored ones leave the article untouched; so does a dry run,
    and so does a crawl having stored a newer revision since the source was read.
    """
    record = _gold_record({**article, "url": source.url, "section": source.section})
    with archive._write.begin() as session:
        row = session.scalars(
            select(Article)
            .where(Article.id == source.article_id)
            .options(selectinload(Article.images), selectinload(Article.attachments))
            # PostgreSQL: a crawl storing this article now waits, or we see its revision.
            .with_for_update(of=Article)
        ).one()
        if row.revision != source.revision:
            return False
        stored = _article_dict(row)
        if all(stored[key] == record[key] for key in CONTENT_KEYS):
            return False
        if dry_run:
            return True
        digest = content_hash(record)
        _apply_content(row, record, digest, parser_version)
        _replace_children(session, row, record)
        row.revision += 1
        session.flush()
        # The search index follows the current version, as after a crawl's edit.
        _index_article(session, row.id, record)
        revision = _revision_row(
            row.id,
            row.revision,
            record,
            digest,
            capture_id=source.capture_id,
            run_id=run_id,
            parser_version=parser_version,
            now=utc_now(),
        )
        revision.reason = "reparse"
        session.add(revision)
        return True
