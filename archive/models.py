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
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from archive.errors import ArchiveError

# Bump together with a migration (archive/migrations/versions) and archive.schema.REVISIONS
# whenever the schema changes; tests/test_migrations.py checks that they agree.
# 2: article_revisions, article_events, frontier, crawl_locks; articles gain
#    revision, etag, last_modified, last_checked_at, removed_at; crawl_runs gain
#    removed and message, and the status "degraded".
# 3: the search index articles_fts and the views current_articles, articles_by_month;
#    warc_records, media, media_urls; captures gain warc_file, warc_offset; images and
#    attachments gain media_sha256; the revision reason "reparse".
# 4: indexes on images.src and attachments.url.
SCHEMA_VERSION = 5

RUN_STATUSES = ("running", "finished", "degraded", "failed", "interrupted")
# "reparse": the same capture extracted again by a newer parser, not an edit by the portal.
REVISION_REASONS = ("new", "edit", "reparse")
EVENT_KINDS = ("removed", "returned")

# Long enough for any ISO 8601 timestamp with fractions and an offset.
Timestamp = String(40)
Sha256 = String(64)
# Byte counts and file offsets outgrow 32 bits (a run's bytes, a big WARC file).
# SQLite's INTEGER is 64-bit already; PostgreSQL's is not.
ByteCount = Integer().with_variant(BigInteger(), "postgresql")

DIALECTS = ("sqlite", "postgresql")


def utc_now() -> str:
    """Now, as the archive stores times: UTC, whole seconds, "Z" suffix."""
    return format_utc(datetime.now(UTC))


def format_utc(moment: datetime) -> str:
    """A datetime as the archive stores times (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> datetime:
    """A stored time back as an aware UTC datetime."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def dialect_insert(dialect: str, model: Any) -> Any:
    """An INSERT with ON CONFLICT clauses (upserts), in the words of the archive's database."""
    if dialect == "sqlite":
        return sqlite.insert(model)
    if dialect == "postgresql":
        return postgresql.insert(model)
    raise ArchiveError(f"the archive supports SQLite and PostgreSQL databases, not {dialect}")


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    return CheckConstraint(
        "{} IN ({})".format(column, ", ".join(f"'{v}'" for v in values)), name=name
    )


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
    """The current version of one article; every version is a row of article_revisions."""

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
    # How many versions article_revisions holds; the row above is the last one.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # HTTP validators of the last response, for conditional re-checks.
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_checked_at: Mapped[str | None] = mapped_column(Timestamp)
    # Set when the portal stopped serving it (the tombstone); cleared if it returns.
    removed_at: Mapped[str | None] = mapped_column(Timestamp)

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
    # src: storing a downloaded file links the rows with its URL (schema version 4).
    __table_args__ = (UniqueConstraint("article_id", "position"), Index("ix_images_src", "src"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    src: Mapped[str] = mapped_column(Text)
    caption: Mapped[str | None] = mapped_column(Text)


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (
        UniqueConstraint("article_id", "position"),
        Index("ix_attachments_url", "url"),
    )

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


class ArticleRevision(Base):
    """One version of an article, in the gold format, as it was observed."""

    __tablename__ = "article_revisions"
    __table_args__ = (
        UniqueConstraint("article_id", "revision"),
        _one_of("reason", REVISION_REASONS, "ck_article_revisions_reason"),
        Index("ix_article_revisions_run", "run_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(Sha256)
    url: Mapped[str] = mapped_column(Text)
    section: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    published: Mapped[str | None] = mapped_column(String(40))
    lead: Mapped[str | None] = mapped_column(Text)
    body: Mapped[list[str]] = mapped_column(JSON)
    images: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    credit: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    parser_version: Mapped[str] = mapped_column(String(64))
    observed_at: Mapped[str] = mapped_column(Timestamp)
    reason: Mapped[str] = mapped_column(String(16))


class ArticleEvent(Base):
    """Something that happened to an article besides a new version: removal, return."""

    __tablename__ = "article_events"
    __table_args__ = (_one_of("kind", EVENT_KINDS, "ck_article_events_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[str] = mapped_column(Timestamp)
    detail: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    # The article's revision when it happened: a return that brings an edit comes
    # before the revision it brings.
    revision: Mapped[int] = mapped_column(Integer)


class CrawlRun(Base):
    __tablename__ = "crawl_runs"
    __table_args__ = (
        _one_of("status", RUN_STATUSES, "ck_crawl_runs_status"),
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
    bytes: Mapped[int] = mapped_column(ByteCount, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    # Why a run ended as it did: alarms of a degraded run, the error of a failed one.
    message: Mapped[str | None] = mapped_column(Text)
    # Counters the crawl reports beyond the columns above, kept rather than dropped.
    extra_stats: Mapped[dict[str, int] | None] = mapped_column(JSON(none_as_null=True))


RUN_COUNTERS = (
    "pages",
    "requests",
    "bytes",
    "new",
    "changed",
    "unchanged",
    "duplicates",
    "removed",
    "failed",
)


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


class FrontierEntry(Base):
    """An article URL discovered but not yet fetched: what a killed crawl left to do."""

    __tablename__ = "frontier"
    __table_args__ = (UniqueConstraint("portal_id", "url"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[str] = mapped_column(ForeignKey("portals.id"))
    url: Mapped[str] = mapped_column(Text)
    section: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    discovered_at: Mapped[str] = mapped_column(Timestamp)


class CrawlLock(Base):
    """Who is crawling a portal right now: one row per portal being crawled."""

    __tablename__ = "crawl_locks"

    portal_id: Mapped[str] = mapped_column(ForeignKey("portals.id"), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    pid: Mapped[int] = mapped_column(Integer)
    hostname: Mapped[str] = mapped_column(Text)
    acquired_at: Mapped[str] = mapped_column(Timestamp)
    heartbeat_at: Mapped[str] = mapped_column(Timestamp)


# --- Archival fidelity (issue 7): WARC records, media files --------------------------
# Kept in one block, apart from the tables above: the WARC index and the media store
# are written by archive/warcs.py and archive/media.py, not by storage.py.


class WarcRecord(Base):
    """One HTTP exchange written to a WARC file: where its response (or revisit) record is.

    Doubles as the payload-digest index: a later response with the same payload
    is written as a revisit record pointing at the first one.
    """

    __tablename__ = "warc_records"
    __table_args__ = (
        Index("ix_warc_records_digest", "payload_digest"),
        Index("ix_warc_records_uri", "target_uri"),
        _one_of("record_type", ("response", "revisit"), "ck_warc_records_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portal_id: Mapped[str] = mapped_column(ForeignKey("portals.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    # Relative to the data directory (the archive file's folder) when inside it.
    warc_file: Mapped[str] = mapped_column(Text)
    warc_offset: Mapped[int] = mapped_column(ByteCount)
    warc_length: Mapped[int] = mapped_column(ByteCount)
    record_id: Mapped[str] = mapped_column(Text)
    record_type: Mapped[str] = mapped_column(String(16))
    target_uri: Mapped[str] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(Text)
    warc_date: Mapped[str] = mapped_column(Timestamp)
    payload_digest: Mapped[str] = mapped_column(Text)
    payload_length: Mapped[int] = mapped_column(ByteCount)
    # For a revisit: the response record holding the payload.
    refers_to: Mapped[int | None] = mapped_column(ForeignKey("warc_records.id"))


class MediaFile(Base):
    """One stored file (image or attachment), content-addressed: media/ab/cd/<sha256>."""

    __tablename__ = "media"

    sha256: Mapped[str] = mapped_column(Sha256, primary_key=True)
    mime_type: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int] = mapped_column(ByteCount)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # Relative to the data directory.
    path: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[str] = mapped_column(Timestamp)


class MediaUrl(Base):
    """Every image or attachment URL fetched (or tried), and the file it gave."""

    __tablename__ = "media_urls"

    url: Mapped[str] = mapped_column(Text, primary_key=True)
    portal_id: Mapped[str] = mapped_column(ForeignKey("portals.id"))
    sha256: Mapped[str | None] = mapped_column(ForeignKey("media.sha256"), index=True)
    http_status: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[str] = mapped_column(Timestamp)
    # Why there is no file: "HTTP 404", "larger than 33554432 bytes", a network error.
    error: Mapped[str | None] = mapped_column(Text)


# Columns this block adds to the tables above (declarative classes accept new
# mapped columns after their definition).
# captures → the WARC response record holding the same bytes.
Capture.warc_file = mapped_column(Text, nullable=True)
Capture.warc_offset = mapped_column(ByteCount, nullable=True)
# images and attachments → the stored file (NULL: not downloaded, or it failed).
Image.media_sha256 = mapped_column(ForeignKey("media.sha256"), nullable=True)
Attachment.media_sha256 = mapped_column(ForeignKey("media.sha256"), nullable=True)
