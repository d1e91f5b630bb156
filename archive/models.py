"""The archive's tables (SQLAlchemy 2 ORM). docs/schema.md describes every column.

Times we record are UTC text, "2026-11-27T12:00:00Z": it sorts as time, reads the
same in sqlite3, pandas and Datasette, and maps to timestamptz later without loss.
`published` is different: it is the portal's own local time, kept as the page gave it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Bump together with a migration whenever the schema changes.
SCHEMA_VERSION = 1

RUN_STATUSES = ("running", "finished", "failed", "interrupted")

# Long enough for any ISO 8601 timestamp with fractions and an offset.
Timestamp = String(40)
Sha256 = String(64)


def utc_now() -> str:
    """Now, as the archive stores times: UTC, whole seconds, "Z" suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value facts about the database itself (schema_version)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Portal(Base):
    __tablename__ = "portals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    province: Mapped[str | None] = mapped_column(Text)
    base_url: Mapped[str] = mapped_column(Text)
    cms: Mapped[str | None] = mapped_column(Text)
    first_crawled_at: Mapped[str | None] = mapped_column(Timestamp)


class Article(Base):
    """The current version of one article (revisions will get a table of their own)."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_portal_published", "portal_id", "published_date"),
        # Leading with the hash also serves look-ups across portals.
        Index("ix_articles_content_hash", "content_hash", "portal_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[str] = mapped_column(ForeignKey("portals.id"))
    url: Mapped[str] = mapped_column(Text, unique=True)
    section: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    published: Mapped[str | None] = mapped_column(String(40))
    published_date: Mapped[str | None] = mapped_column(String(10))
    lead: Mapped[str | None] = mapped_column(Text)
    body: Mapped[list[str]] = mapped_column(JSON)
    # none_as_null: no credit is SQL NULL, not the JSON text 'null'.
    credit: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    content_hash: Mapped[str] = mapped_column(Sha256)
    first_seen_at: Mapped[str] = mapped_column(Timestamp)
    last_seen_at: Mapped[str] = mapped_column(Timestamp)
    parser_version: Mapped[str] = mapped_column(String(64))

    images: Mapped[list[Image]] = relationship(
        order_by="Image.position", cascade="all, delete-orphan", passive_deletes=True
    )
    attachments: Mapped[list[Attachment]] = relationship(
        order_by="Attachment.position", cascade="all, delete-orphan", passive_deletes=True
    )


class ArticleUrl(Base):
    """Every URL an article was reached by: its canonical URL and its aliases."""

    __tablename__ = "article_urls"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    first_seen_at: Mapped[str] = mapped_column(Timestamp)


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("article_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    src: Mapped[str] = mapped_column(Text)
    caption: Mapped[str | None] = mapped_column(Text)


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("article_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)


class Capture(Base):
    """One raw HTTP response an article was parsed from, body compressed."""

    __tablename__ = "captures"
    __table_args__ = (Index("ix_captures_article_body", "article_id", "body_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    http_status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, str]] = mapped_column(JSON)
    content_type: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[str] = mapped_column(Timestamp)
    compression: Mapped[str] = mapped_column(String(16))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_sha256: Mapped[str] = mapped_column(Sha256)
    # The article's content hash as parsed from this capture: links a capture to a
    # version of the article, which is what a revisions table will need.
    content_hash: Mapped[str] = mapped_column(Sha256)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ({})".format(", ".join(f"'{s}'" for s in RUN_STATUSES)),
            name="ck_crawl_runs_status",
        ),
        Index("ix_crawl_runs_portal", "portal_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[str] = mapped_column(ForeignKey("portals.id"))
    started_at: Mapped[str] = mapped_column(Timestamp)
    finished_at: Mapped[str | None] = mapped_column(Timestamp)
    status: Mapped[str] = mapped_column(String(16))
    sections: Mapped[list[str]] = mapped_column(JSON)
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # Counters the crawl reports beyond the columns above, kept rather than dropped.
    extra_stats: Mapped[dict[str, int] | None] = mapped_column(JSON(none_as_null=True))


RUN_COUNTERS = ("pages", "requests", "bytes", "new", "changed", "unchanged", "duplicates", "failed")


class FetchFailure(Base):
    __tablename__ = "fetch_failures"
    __table_args__ = (Index("ix_fetch_failures_portal_url", "portal_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    portal_id: Mapped[str] = mapped_column(ForeignKey("portals.id"))
    url: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    failed_at: Mapped[str] = mapped_column(Timestamp)
