"""The archive: store parsed articles with their raw captures, and read them back."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, delete, event, func, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from archive import bm25, habits, locks, schema, search, search_pg, stats
from archive.errors import ArchiveError, LockHeld
from archive.folding import fold_or_none
from archive.models import (
    DIALECTS,
    RUN_COUNTERS,
    RUN_STATUSES,
    Article,
    ArticleEvent,
    ArticleRevision,
    ArticleUrl,
    Attachment,
    Base,
    Capture,
    CrawlLock,
    CrawlRun,
    FetchFailure,
    FrontierEntry,
    Image,
    Portal,
    dialect_insert,
    parse_utc,
    utc_now,
)
from archive.paths import default_db_path
from archive.query import parse_query

__all__ = ["ArchiveError", "LockHeld"]  # re-exported: they used to live here

GOLD_KEYS = (
    "url",
    "section",
    "title",
    "published",
    "lead",
    "body",
    "images",
    "credit",
    "attachments",
)
CREDIT_KEYS = ("raw", "text_by", "photo_by", "source")

StoreStatus = Literal["new", "unchanged", "changed", "duplicate"]

# Connections of write sessions carry this execution option: see _begin_sqlite.
_WRITE_OPTION = "portal_archive_write"
_COMPRESSION = "zlib"
_SPACES = re.compile(r"\s+")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class StoreResult:
    status: StoreStatus
    article_id: int
    # None when an identical raw body was already stored for this article.
    capture_id: int | None = None
    # The article's revision count after this store ("changed" adds one).
    revision: int = 1
    # The article had been marked removed and is back: the mark was cleared.
    returned: bool = False


@dataclass(frozen=True)
class ArticleState:
    """What a crawler needs to know about an archived article before fetching it."""

    article_id: int
    portal_id: str
    url: str  # canonical
    section: str | None
    content_hash: str
    etag: str | None
    last_modified: str | None
    removed_at: str | None
    published: str | None
    last_seen_at: str
    revision: int = 1
    last_checked_at: str | None = None


# --- content hash -------------------------------------------------------------


def _norm(text: str | None) -> str | None:
    if text is None:
        return None
    folded = _SPACES.sub(" ", unicodedata.normalize("NFC", str(text))).strip()
    return folded or None


def _norm_names(names: list[str] | None) -> list[str] | None:
    return None if names is None else [_norm(name) or "" for name in names]


def content_hash(article: dict[str, Any]) -> str:
    """sha256 hex of what the article says, independent of where or when it was seen.

    Covers title, published, lead, body, images, credit and attachments; not url,
    section or timestamps. Text is NFC with white space folded, so re-encoding or
    re-indenting a page does not count as a change. Changing this function changes
    every stored hash: treat it as part of the schema.
    """
    article = _as_dict(article)
    credit = article.get("credit")
    view = {
        "title": _norm(article.get("title")),
        "published": _norm(article.get("published")),
        "lead": _norm(article.get("lead")),
        "body": [p for p in (_norm(p) for p in article.get("body") or []) if p],
        "images": [
            [_norm(img.get("src")), _norm(img.get("caption"))]
            for img in article.get("images") or []
        ],
        "credit": None
        if not credit
        else [_norm(credit.get("raw"))] + [_norm_names(credit.get(k)) for k in CREDIT_KEYS[1:]],
        "attachments": [
            [_norm(att.get("url")), _norm(att.get("name"))]
            for att in article.get("attachments") or []
        ],
    }
    text = json.dumps(view, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- article records ----------------------------------------------------------


def _as_dict(article: Any) -> dict[str, Any]:
    # Also accept portal_crawler's Article dataclass without importing it.
    return article.to_dict() if hasattr(article, "to_dict") else article


def _nfc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFC", text)


def _nfc_names(names: list[str] | None) -> list[str] | None:
    return None if names is None else [unicodedata.normalize("NFC", n) for n in names]


def _gold_record(article: Any) -> dict[str, Any]:
    """The article as stored: gold keys in gold order, every text NFC."""
    article = _as_dict(article)
    if not article.get("url"):
        raise ArchiveError("an article needs a 'url' to be stored")
    credit = article.get("credit")
    return {
        "url": _nfc(article["url"]),
        "section": _nfc(article.get("section")),
        "title": _nfc(article.get("title")),
        "published": _nfc(article.get("published")),
        "lead": _nfc(article.get("lead")),
        "body": [_nfc(p) for p in article.get("body") or []],
        "images": [
            {"src": _nfc(img["src"]), "caption": _nfc(img.get("caption"))}
            for img in article.get("images") or []
        ],
        "credit": None
        if not credit
        else {
            "raw": _nfc(credit.get("raw")),
            **{key: _nfc_names(credit.get(key)) for key in CREDIT_KEYS[1:]},
        },
        "attachments": [
            {"url": _nfc(att["url"]), "name": _nfc(att.get("name")) or ""}
            for att in article.get("attachments") or []
        ],
    }


def _published_date(published: str | None) -> str | None:
    # The portal's local calendar date, which is what a reader filters by.
    match = _DATE.match(published or "")
    return match.group(0) if match else None


def _apply_content(row: Article, record: dict[str, Any], digest: str, parser_version: str) -> None:
    row.section = record["section"]
    row.title = record["title"]
    row.published = record["published"]
    row.published_date = _published_date(record["published"])
    row.lead = record["lead"]
    row.body = record["body"]
    row.credit = record["credit"]
    row.content_hash = digest
    row.parser_version = parser_version


def _replace_children(session: Session, row: Article, record: dict[str, Any]) -> None:
    if row.id is not None:
        # Delete the old rows first: the unit of work would insert the new ones
        # before deleting, colliding on (article_id, position).
        row.images.clear()
        row.attachments.clear()
        session.flush()
    row.images = [
        Image(position=i, src=img["src"], caption=img["caption"])
        for i, img in enumerate(record["images"])
    ]
    row.attachments = [
        Attachment(position=i, url=att["url"], name=att["name"])
        for i, att in enumerate(record["attachments"])
    ]


def _article_dict(row: Article) -> dict[str, Any]:
    return {
        "url": row.url,
        "section": row.section,
        "title": row.title,
        "published": row.published,
        "lead": row.lead,
        "body": list(row.body or []),
        "images": [{"src": img.src, "caption": img.caption} for img in row.images],
        "credit": None if row.credit is None else {k: row.credit.get(k) for k in CREDIT_KEYS},
        "attachments": [{"url": att.url, "name": att.name} for att in row.attachments],
        "portal": row.portal_id,
        "content_hash": row.content_hash,
        "first_seen_at": row.first_seen_at,
        "last_seen_at": row.last_seen_at,
        "revision": row.revision,
        "removed_at": row.removed_at,
    }


def _revision_row(
    article_id: int,
    revision: int,
    record: dict[str, Any],
    digest: str,
    *,
    capture_id: int | None,
    run_id: int | None,
    parser_version: str,
    now: str,
) -> ArticleRevision:
    return ArticleRevision(
        article_id=article_id,
        revision=revision,
        content_hash=digest,
        url=record["url"],
        section=record["section"],
        title=record["title"],
        published=record["published"],
        lead=record["lead"],
        body=record["body"],
        images=record["images"],
        credit=record["credit"],
        attachments=record["attachments"],
        capture_id=capture_id,
        run_id=run_id,
        parser_version=parser_version,
        observed_at=now,
        reason="new" if revision == 1 else "edit",
    )


def _revision_dict(rev: ArticleRevision) -> dict[str, Any]:
    return {
        "revision": rev.revision,
        "observed_at": rev.observed_at,
        "content_hash": rev.content_hash,
        "parser_version": rev.parser_version,
        "reason": rev.reason,
        "capture_id": rev.capture_id,
        "run_id": rev.run_id,
        "url": rev.url,
        "section": rev.section,
        "title": rev.title,
        "published": rev.published,
        "lead": rev.lead,
        "body": list(rev.body or []),
        "images": list(rev.images or []),
        "credit": rev.credit,
        "attachments": list(rev.attachments or []),
        "events": [],
    }


def _event_dict(ev: ArticleEvent) -> dict[str, Any]:
    return {
        "kind": ev.kind,
        "at": ev.at,
        "detail": ev.detail,
        "http_status": ev.http_status,
        "run_id": ev.run_id,
    }


def _state(row: Article) -> ArticleState:
    return ArticleState(
        article_id=row.id,
        portal_id=row.portal_id,
        url=row.url,
        section=row.section,
        content_hash=row.content_hash,
        etag=row.etag,
        last_modified=row.last_modified,
        removed_at=row.removed_at,
        published=row.published,
        last_seen_at=row.last_seen_at,
        revision=row.revision,
        last_checked_at=row.last_checked_at,
    )


def _as_utc(now: datetime | None) -> datetime:
    # The archive's clock (utc_now) unless the caller gives one.
    if now is None:
        return parse_utc(utc_now())
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _check_since(since: str | None) -> None:
    _check_date("since", since)


def _check_date(name: str, value: str | None) -> None:
    if value is None:
        return
    try:
        ok = len(value) == 10 and date.fromisoformat(value) is not None
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ArchiveError(f"'{name}' must be a date written YYYY-MM-DD, not {value!r}")


# --- raw bodies ---------------------------------------------------------------


def compress(data: bytes) -> bytes:
    return zlib.compress(data, 6)


def decompress(data: bytes, compression: str = _COMPRESSION) -> bytes:
    if compression != "zlib":
        raise ArchiveError(f"unknown capture compression {compression!r}")
    return zlib.decompress(data)


def _header(headers: dict[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


# --- engine -------------------------------------------------------------------


def _database_url(db: str | Path | None) -> URL:
    if db is None:
        db = default_db_path()
    if isinstance(db, str) and "://" in db:
        url = make_url(db)
    elif str(db) == ":memory:":
        url = make_url("sqlite://")
    else:
        url = URL.create("sqlite", database=str(Path(db).expanduser()))
    if url.drivername in ("postgresql", "postgres"):
        # The driver the archive ships with (the "scale" extra), not SQLAlchemy's default.
        url = url.set(drivername="postgresql+psycopg")
    database = url.database or ""
    is_file = database not in ("", ":memory:") and not database.startswith("file:")
    if url.get_backend_name() == "sqlite" and is_file:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    return url


def _connect_sqlite(dbapi_connection: Any, record: Any) -> None:
    # The driver's own transaction handling would hide our BEGIN; see _begin_sqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Wait for other writers before anything else: switching to WAL needs a lock too.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # The search index stores text folded by this very function (archive.search).
    dbapi_connection.create_function("vn_fold", 1, fold_or_none, deterministic=True)
    record.info[bm25.INFO_KEY] = bm25.install(dbapi_connection)


def _begin_sqlite(conn: Any) -> None:
    # A write transaction takes the write lock up front: a deferred one that reads
    # first fails outright (SQLITE_BUSY, no retry) if another process wrote meanwhile.
    immediate = conn.get_execution_options().get(_WRITE_OPTION)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _make_engine(url: URL) -> Engine:
    backend = url.get_backend_name()
    if backend not in DIALECTS:
        raise ArchiveError(
            f"the archive supports SQLite and PostgreSQL databases, not {backend} ({url!r})"
        )
    options: dict[str, Any] = {}
    if backend == "postgresql":
        # Long-running workers outlive server restarts and idle-connection timeouts.
        options["pool_pre_ping"] = True
    try:
        engine = create_engine(
            url, json_serializer=partial(json.dumps, ensure_ascii=False), **options
        )
    except ModuleNotFoundError as exc:
        raise ArchiveError(
            f"no driver for {url.drivername} ({exc.name} is not installed): "
            "install portal-archive[scale] for PostgreSQL"
        ) from exc
    if backend == "sqlite":
        event.listen(engine, "connect", _connect_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
    return engine


def _identity_keys(portal_id: str, urls: list[str], digest: str) -> list[int]:
    """Advisory-lock keys of what makes an article itself: its URLs, its portal and hash."""
    names = [f"url {url}" for url in urls] + [f"content {portal_id} {digest}"]
    keys = {
        int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)
        for name in names
    }
    # One order for every transaction: two of them never wait for each other in a cycle.
    return sorted(keys)


# --- the archive --------------------------------------------------------------


class Archive:
    """One archive database. Open with `Archive.open(path_or_url)`; use as a context manager."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine, expire_on_commit=False, execution_options={_WRITE_OPTION: True}
        )
        # Locks this object took, by portal: only these can it beat or release.
        self._locks: dict[str, locks.Holder] = {}
        # Set by open() when it upgraded an older archive (see archive.schema).
        self.upgraded: schema.Upgrade | None = None

    @classmethod
    def open(cls, db: str | Path | None = None) -> Archive:
        """Open (creating it and its folder if need be) the archive at a path or URL."""
        archive = cls(_make_engine(_database_url(db)))
        try:
            archive._ensure_schema()
        except BaseException:
            archive.close()
            raise
        return archive

    def _ensure_schema(self) -> None:
        # Creates a new archive, upgrades an older one (with a backup), refuses a newer one.
        self.upgraded = schema.prepare(self.engine, {_WRITE_OPTION: True})

    def close(self) -> None:
        """Release the locks this object holds, then the database."""
        for portal_id in list(self._locks):
            # Closing must not fail: a lock left behind goes stale by itself.
            with contextlib.suppress(SQLAlchemyError):
                self.release_lock(portal_id)
        self.engine.dispose()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- portals and runs ---

    def upsert_portal(
        self,
        id: str,
        name: str,
        base_url: str,
        province: str | None = None,
        cms: str | None = None,
    ) -> None:
        """Add a portal, or update it; a None province or cms keeps the stored value."""
        # One statement: several workers may add the same portal at the same moment.
        insert = dialect_insert(self.engine.dialect.name, Portal).values(
            id=id, name=_nfc(name) or id, base_url=base_url, province=_nfc(province), cms=cms
        )
        new = insert.excluded
        upsert = insert.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "name": new.name,
                "base_url": new.base_url,
                "province": func.coalesce(new.province, Portal.province),
                "cms": func.coalesce(new.cms, Portal.cms),
            },
        )
        with self._write.begin() as session:
            session.execute(upsert)

    def start_run(self, portal_id: str, sections: list[str], args: dict[str, Any]) -> int:
        now = utc_now()
        with self._write.begin() as session:
            portal = self._portal(session, portal_id)
            if portal.first_crawled_at is None:
                portal.first_crawled_at = now
            run = CrawlRun(
                portal_id=portal_id,
                started_at=now,
                status="running",
                sections=[_nfc(s) for s in sections],
                args=dict(args),
                **dict.fromkeys(RUN_COUNTERS, 0),
            )
            session.add(run)
            session.flush()
            return run.id

    def finish_run(
        self, run_id: int, status: str, stats: dict[str, Any], message: str | None = None
    ) -> None:
        """Close a run with its final status, counters (see RUN_COUNTERS) and message.

        Counters not in RUN_COUNTERS are kept in `extra_stats`.
        """
        if status not in RUN_STATUSES:
            raise ArchiveError(f"run status must be one of {', '.join(RUN_STATUSES)}")
        with self._write.begin() as session:
            run = session.get(CrawlRun, run_id)
            if run is None:
                raise ArchiveError(f"no crawl run with id {run_id}")
            run.status = status
            run.finished_at = utc_now()
            run.message = _nfc(message)
            extra = {}
            for key, value in stats.items():
                if key in RUN_COUNTERS:
                    setattr(run, key, int(value))
                else:
                    extra[key] = value
            run.extra_stats = extra or None

    def record_failure(
        self,
        portal_id: str,
        url: str,
        reason: str,
        *,
        run_id: int | None = None,
        http_status: int | None = None,
    ) -> None:
        with self._write.begin() as session:
            session.add(
                FetchFailure(
                    run_id=run_id,
                    portal_id=portal_id,
                    url=url,
                    reason=reason,
                    http_status=http_status,
                    failed_at=utc_now(),
                )
            )

    # --- articles ---

    def store_article(
        self,
        portal_id: str,
        article: dict[str, Any],
        *,
        fetched_url: str,
        raw_body: bytes,
        http_status: int,
        headers: dict[str, str],
        run_id: int | None,
        parser_version: str,
        aliases: Iterable[str] = (),
    ) -> StoreResult:
        """Store one parsed article and its raw response, all in one transaction.

        `aliases` are other URLs that led here (a listing's link before its
        redirects): recorded too, so the next crawl knows that link.

        The article is the one already known by its canonical or fetched URL
        ("unchanged" or "changed"), else one of the same portal with the same
        content hash ("duplicate": the new URL becomes an alias), else "new".
        A new article gets revision 1 and a changed one its next revision; the
        articles row always holds the latest. An article marked removed that is
        reached again by its URL has the mark cleared and its return recorded.
        """
        record = _gold_record(article)
        digest = content_hash(record)
        body_sha = hashlib.sha256(raw_body).hexdigest()
        urls = list(dict.fromkeys([record["url"], fetched_url, *aliases]))
        now = utc_now()
        with self._write.begin() as session:
            if self._postgres:
                # SQLite runs one writer at a time; PostgreSQL runs them side by side, so
                # the look-ups below would race. Writers of the same URL or the same
                # content take turns: the lock lasts until this transaction ends.
                session.execute(
                    text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) k"),
                    {"keys": _identity_keys(portal_id, urls, digest)},
                )
            portal = self._portal(session, portal_id)
            if portal.first_crawled_at is None:
                portal.first_crawled_at = now
            known = dict(
                session.execute(
                    select(ArticleUrl.url, ArticleUrl.article_id).where(ArticleUrl.url.in_(urls))
                ).all()
            )
            row, status = self._match(session, portal_id, urls, known, digest)
            returned = False
            if row is None:
                row = Article(
                    portal_id=portal_id,
                    url=record["url"],
                    first_seen_at=now,
                    last_seen_at=now,
                    revision=1,
                )
                _apply_content(row, record, digest, parser_version)
                _replace_children(session, row, record)
                session.add(row)
                session.flush()
            else:
                # A duplicate is the same story at another URL: it proves nothing
                # about the removed URL, which would answer 404 again.
                if row.removed_at is not None and status != "duplicate":
                    detail = f"reached again: HTTP {http_status}"
                    self._add_event(session, row, "returned", run_id, now, detail, http_status)
                    row.removed_at = None
                    returned = True
                if status == "changed":
                    _apply_content(row, record, digest, parser_version)
                    _replace_children(session, row, record)
                    row.revision += 1
            if status != "duplicate":
                # Validators of another URL's response say nothing about this one's.
                row.etag = _header(headers, "ETag")
                row.last_modified = _header(headers, "Last-Modified")
            row.last_seen_at = now
            row.last_checked_at = now
            session.add_all(
                ArticleUrl(url=url, article_id=row.id, first_seen_at=now)
                for url in urls
                if url not in known
            )
            capture_id = None if status == "new" else self._capture_id(session, row.id, body_sha)
            stored_capture = None
            if capture_id is None:
                stored_capture = Capture(
                    article_id=row.id,
                    run_id=run_id,
                    url=fetched_url,
                    http_status=http_status,
                    headers=dict(headers),
                    content_type=_header(headers, "Content-Type"),
                    fetched_at=now,
                    compression=_COMPRESSION,
                    body=compress(raw_body),
                    body_sha256=body_sha,
                    content_hash=digest,
                )
                session.add(stored_capture)
                session.flush()
                capture_id = stored_capture.id
            if status in ("new", "changed"):
                session.flush()
                _index_article(session, row.id, record)
                session.add(
                    _revision_row(
                        row.id,
                        row.revision,
                        record,
                        digest,
                        capture_id=capture_id,
                        run_id=run_id,
                        parser_version=parser_version,
                        now=now,
                    )
                )
            return StoreResult(
                status,
                row.id,
                stored_capture.id if stored_capture else None,
                revision=row.revision,
                returned=returned,
            )

    @staticmethod
    def _add_event(
        session: Session,
        row: Article,
        kind: str,
        run_id: int | None,
        now: str,
        detail: str | None,
        http_status: int | None = None,
    ) -> None:
        session.add(
            ArticleEvent(
                article_id=row.id,
                run_id=run_id,
                kind=kind,
                at=now,
                detail=detail,
                http_status=http_status,
                revision=row.revision,
            )
        )

    @staticmethod
    def _match(
        session: Session,
        portal_id: str,
        urls: list[str],
        known: dict[str, int],
        digest: str,
    ) -> tuple[Article | None, StoreStatus]:
        # urls[0] is the canonical URL: it wins if the URLs point at different articles.
        by_url = next((known[url] for url in urls if url in known), None)
        if by_url is not None:
            # Locked on PostgreSQL (SQLite has no FOR UPDATE, and needs none): a writer
            # reaching it by another URL waits, then sees our revision.
            row = session.get(Article, by_url, with_for_update=True)
            assert row is not None  # the foreign key guarantees it
            return row, "unchanged" if row.content_hash == digest else "changed"
        row = session.scalars(
            select(Article)
            .where(Article.content_hash == digest, Article.portal_id == portal_id)
            .order_by(Article.id)
            .limit(1)
            .with_for_update()
        ).first()
        return row, "duplicate" if row is not None else "new"

    @staticmethod
    def _capture_id(session: Session, article_id: int, body_sha: str) -> int | None:
        """The capture already kept for this article with this raw body, if any."""
        stmt = select(Capture.id).where(
            Capture.article_id == article_id, Capture.body_sha256 == body_sha
        )
        return session.scalars(stmt.order_by(Capture.id).limit(1)).first()

    @staticmethod
    def _portal(session: Session, portal_id: str) -> Portal:
        portal = session.get(Portal, portal_id)
        if portal is None:
            raise ArchiveError(f"unknown portal {portal_id!r}: call upsert_portal first")
        return portal

    def _find(self, session: Session, url: str, *, lock: bool = False) -> Article | None:
        """The article reached by this URL (canonical or alias), if any.

        With `lock`, the row is locked until the transaction ends (PostgreSQL), so
        that what a writer read is still true when it writes.
        """
        stmt = (
            select(Article)
            .join(ArticleUrl, ArticleUrl.article_id == Article.id)
            .where(ArticleUrl.url == url)
        )
        if lock:
            stmt = stmt.with_for_update(of=Article)
        return session.scalars(stmt).first()

    # --- re-checks and tombstones ---

    def article_state(self, url: str) -> ArticleState | None:
        """What the archive knows of the article reached by this URL, or None."""
        with self._read() as session:
            row = self._find(session, url)
            return None if row is None else _state(row)

    def touch_unchanged(self, url: str, *, run_id: int | None) -> None:
        """Record a re-check answered 304 Not Modified: the article is still there.

        Updates last_seen_at and last_checked_at; an article marked removed has
        the mark cleared and its return recorded. Unknown URLs are ignored.
        """
        now = utc_now()
        with self._write.begin() as session:
            row = self._find(session, url, lock=True)
            if row is None:
                return
            if row.removed_at is not None:
                self._add_event(session, row, "returned", run_id, now, "HTTP 304", 304)
                row.removed_at = None
            row.last_seen_at = now
            row.last_checked_at = now

    def mark_removed(
        self,
        portal_id: str,
        url: str,
        *,
        reason: str,
        http_status: int | None,
        run_id: int | None,
    ) -> bool:
        """Mark the portal's article reached by this URL as removed from the portal.

        True when this is the first time it is seen gone (removed_at is set and a
        "removed" event recorded); False when it was already marked (the first
        time is kept) or no article of that portal is known by this URL. Nothing
        is ever deleted.
        """
        now = utc_now()
        with self._write.begin() as session:
            row = self._find(session, url, lock=True)
            if row is None or row.portal_id != portal_id:
                return False
            row.last_checked_at = now
            if row.removed_at is not None:
                return False
            row.removed_at = now
            self._add_event(session, row, "removed", run_id, now, _nfc(reason), http_status)
            return True

    def recheck_urls(
        self,
        portal_id: str,
        section: str | None,
        *,
        last: int,
        days: int | None,
        now: datetime | None = None,
    ) -> list[str]:
        """Canonical URLs of the articles to re-check for edits, most recent first.

        The `last` most recently published articles of the portal (and section,
        when given) that are not marked removed, plus every such article published
        within `days` days before `now` (compared by the portal's local date).
        """
        base = select(Article.url).where(
            Article.portal_id == portal_id, Article.removed_at.is_(None)
        )
        if section is not None:
            base = base.where(Article.section == _nfc(section))
        newest_first = (
            Article.published_date.desc().nulls_last(),
            Article.published.desc().nulls_last(),
            Article.first_seen_at.desc(),
            Article.id.desc(),
        )
        with self._read() as session:
            urls = list(session.scalars(base.order_by(*newest_first).limit(max(last, 0))))
            if days is not None:
                cutoff = (_as_utc(now) - timedelta(days=days)).date().isoformat()
                recent = base.where(Article.published_date >= cutoff).order_by(*newest_first)
                urls += session.scalars(recent)
        return list(dict.fromkeys(urls))

    # --- the frontier: discovered, not yet fetched ---

    def frontier_add(self, portal_id: str, run_id: int, items: list[tuple[str, str]]) -> None:
        """Remember article URLs (url, section) to fetch; URLs already there are kept as is."""
        first_sections: dict[str, str] = {}
        for url, section in items:
            first_sections.setdefault(url, section)
        if not first_sections:
            return
        now = utc_now()
        rows = [
            {
                "portal_id": portal_id,
                "url": url,
                "section": _nfc(section),
                "run_id": run_id,
                "discovered_at": now,
            }
            for url, section in first_sections.items()
        ]
        with self._write.begin() as session:
            session.execute(_insert_ignore(self.engine, FrontierEntry, ["portal_id", "url"]), rows)

    def frontier_done(self, portal_id: str, url: str) -> None:
        """Forget a URL of the frontier: it was fetched (stored, or failed for good)."""
        with self._write.begin() as session:
            session.execute(
                delete(FrontierEntry).where(
                    FrontierEntry.portal_id == portal_id, FrontierEntry.url == url
                )
            )

    def frontier_pending(self, portal_id: str) -> list[tuple[str, str]]:
        """The portal's URLs still to fetch, (url, section), oldest first."""
        stmt = (
            select(FrontierEntry.url, FrontierEntry.section)
            .where(FrontierEntry.portal_id == portal_id)
            .order_by(FrontierEntry.discovered_at, FrontierEntry.id)
        )
        with self._read() as session:
            return [(url, section) for url, section in session.execute(stmt).all()]

    # --- locks ---

    def acquire_lock(self, portal_id: str, *, run_id: int, stale_after: float = 900.0) -> None:
        """Take the portal's crawl lock for this run, or raise LockHeld.

        A lock whose holder was on this host and is gone, or whose heartbeat is
        older than `stale_after` seconds, is stale and taken over.
        """
        holder = locks.this_process(run_id)
        try:
            with self._write.begin() as session:
                self._portal(session, portal_id)
                locks.acquire(session, portal_id, holder, utc_now(), stale_after)
        except IntegrityError as exc:
            # Another process inserted the lock between our read and our write.
            raise LockHeld(
                f"portal {portal_id!r} was locked by another crawl at the same moment"
            ) from exc
        self._locks[portal_id] = holder

    def heartbeat(self, portal_id: str) -> None:
        """Show that the crawl holding the portal's lock is alive.

        Raises LockHeld if another crawl has taken the lock over (ours went stale).
        """
        holder = self._locks.get(portal_id)
        if holder is None:
            raise ArchiveError(f"this archive does not hold the lock of portal {portal_id!r}")
        with self._write.begin() as session:
            locks.beat(session, portal_id, holder, utc_now())

    def release_lock(self, portal_id: str) -> None:
        """Give up the portal's lock, if this archive holds it."""
        holder = self._locks.pop(portal_id, None)
        if holder is None:
            return
        with self._write.begin() as session:
            locks.release(session, portal_id, holder)

    def interrupt_stale_runs(self, portal_id: str) -> int:
        """Mark runs left "running" by a crawl that is gone as "interrupted"; how many.

        Call it once the lock is held, so that the only live run is the holder's.
        """
        with self._write.begin() as session:
            return locks.interrupt_stale(session, portal_id, utc_now())

    def lock_holder(self, portal_id: str) -> dict[str, Any] | None:
        """The portal's lock row, if any (live or stale)."""
        with self._read() as session:
            lock = session.get(CrawlLock, portal_id)
            if lock is None:
                return None
            return {
                "portal": lock.portal_id,
                "run_id": lock.run_id,
                "pid": lock.pid,
                "hostname": lock.hostname,
                "acquired_at": lock.acquired_at,
                "heartbeat_at": lock.heartbeat_at,
            }

    # --- habits, for alarms ---

    def field_presence(
        self, portal_id: str, *, last: int = 100, exclude_run: int | None = None
    ) -> tuple[int, dict[str, float]]:
        """(articles, fraction having each field) over the portal's newest articles.

        Counts the `last` articles most recently stored before run `exclude_run`,
        as first stored. Fields: see archive.habits.PRESENCE_FIELDS.
        """
        with self._read() as session:
            return habits.field_presence(session, portal_id, last=last, exclude_run=exclude_run)

    def discovery_gap(
        self, portal_id: str, *, now: datetime | None = None
    ) -> tuple[float | None, float | None]:
        """(typical seconds between runs finding new articles, seconds since the last one)."""
        with self._read() as session:
            return habits.discovery_gap(session, portal_id, _as_utc(now))

    # --- reading ---

    def is_known_url(self, url: str) -> bool:
        """Whether any stored article was reached by this URL (canonical or alias)."""
        with self._read() as session:
            return session.get(ArticleUrl, url) is not None

    def count_articles(self, portal_id: str | None = None) -> int:
        stmt = select(func.count()).select_from(Article)
        if portal_id is not None:
            stmt = stmt.where(Article.portal_id == portal_id)
        with self._read() as session:
            return session.scalar(stmt) or 0

    def iter_articles(
        self,
        portal_id: str | None = None,
        since: str | None = None,
        *,
        include_removed: bool = True,
        **filters: Any,
    ) -> Iterator[dict[str, Any]]:
        """Stored articles, current versions: gold dicts plus the keys of EXPORT_KEYS.

        Ordered by portal, published, id. `since` (YYYY-MM-DD, inclusive) keeps
        articles published on or after that date in the portal's local time.
        Articles the portal removed are included, with `removed_at` set, unless
        `include_removed` is False. Other keyword arguments are those of
        archive.export.ExportFilter (section, until, query, include_revisions).
        Streams: memory does not grow with the number of articles.
        """
        from archive.export import ExportFilter, iter_records

        selection = ExportFilter(
            portal_id=portal_id, since=since, include_removed=include_removed, **filters
        )
        yield from iter_records(self, selection)

    def search(
        self,
        query: str,
        *,
        portal_id: str | None = None,
        section: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 20,
        highlight: tuple[str, str] = ("[", "]"),
        rank_window: int | None = search.RANK_WINDOW,
    ) -> search.SearchResults:
        """Full-text search of the current versions, best match first.

        Ranked by bm25 on SQLite, ts_rank on PostgreSQL (archive.search_pg), which
        find the same articles. When more than `rank_window` articles match, only
        the `rank_window` most recently archived of them (highest ids) are ranked,
        so a common word stays fast in a large archive; the result's `windowed` then
        says so. None ranks every match.

        Accents are optional ("dan van kheo" finds "Dân vận khéo"); see archive.query
        for phrases, prefixes, OR and exclusions. `since`/`until` (YYYY-MM-DD,
        inclusive) filter on the portal's local publication date. Each result has id,
        portal, portal_name, url, section, title, published, removed_at, score
        (higher is better), snippet (the best passage in the original text, each
        match between the two strings of `highlight`) and snippet_field. A query
        that cannot be run raises archive.query.QueryError (an ArchiveError) with a
        message for the reader.
        """
        parsed = parse_query(query)
        _check_date("since", since)
        _check_date("until", until)
        if limit < 1:
            raise ArchiveError("the search limit must be at least 1")
        if rank_window is not None and rank_window < 1:
            raise ArchiveError("the rank window must be at least 1 (or None: rank all)")
        filters = search.Filters(
            portal_id=portal_id, section=_nfc(section), since=since, until=until
        )
        engine = search_pg if self._postgres else search
        with self._read() as session:
            return engine.run_search(session, parsed, filters, limit, highlight, rank_window)

    def rebuild_search_index(self) -> int:
        """Rebuild the full-text index from the articles table; how many it indexed.

        Only needed after writing articles by other means than this class.
        """
        with self._write.begin() as session:
            return (search_pg if self._postgres else search).rebuild_index(session)

    def stats(self) -> dict[str, Any]:
        """Totals, per-portal figures (articles, last run, failures), articles per month."""
        with self._read() as session:
            return stats.collect(session)

    def captures(self, article_id: int) -> list[dict[str, Any]]:
        """An article's raw responses, oldest first, bodies decompressed."""
        stmt = select(Capture).where(Capture.article_id == article_id).order_by(Capture.id)
        with self._read() as session:
            return [
                {
                    "id": cap.id,
                    "run_id": cap.run_id,
                    "url": cap.url,
                    "http_status": cap.http_status,
                    "headers": cap.headers,
                    "content_type": cap.content_type,
                    "fetched_at": cap.fetched_at,
                    "body": decompress(cap.body, cap.compression),
                    "body_sha256": cap.body_sha256,
                    "content_hash": cap.content_hash,
                }
                for cap in session.scalars(stmt)
            ]

    def last_failure_status(self, portal_id: str, url: str) -> int | None | Literal[False]:
        """HTTP status of the URL's latest recorded failure (None: not HTTP; False: none).

        Uses the (portal_id, url) index: the spider asks this for listing links.
        """
        stmt = (
            select(FetchFailure.http_status)
            .where(FetchFailure.portal_id == portal_id, FetchFailure.url == url)
            .order_by(FetchFailure.id.desc())
            .limit(1)
        )
        with self._read() as session:
            row = session.execute(stmt).first()
        return False if row is None else row[0]

    def failures(
        self, run_id: int | None = None, *, url: str | None = None
    ) -> list[dict[str, Any]]:
        """Recorded fetch failures, oldest first (of one run, or of one URL)."""
        stmt = select(FetchFailure).order_by(FetchFailure.id)
        if run_id is not None:
            stmt = stmt.where(FetchFailure.run_id == run_id)
        if url is not None:
            stmt = stmt.where(FetchFailure.url == url)
        with self._read() as session:
            return [
                {
                    "id": f.id,
                    "run_id": f.run_id,
                    "portal": f.portal_id,
                    "url": f.url,
                    "reason": f.reason,
                    "http_status": f.http_status,
                    "failed_at": f.failed_at,
                }
                for f in session.scalars(stmt)
            ]

    def history(self, url: str) -> list[dict[str, Any]]:
        """Every revision of the article reached by this URL, oldest first; [] if unknown.

        Each revision: revision, observed_at, content_hash, parser_version, reason
        ("new" or "edit"), capture_id, run_id, the gold fields, and "events": the
        removals and returns that followed it, in order.
        """
        with self._read() as session:
            row = self._find(session, url)
            if row is None:
                return []
            revisions = [
                _revision_dict(rev)
                for rev in session.scalars(
                    select(ArticleRevision)
                    .where(ArticleRevision.article_id == row.id)
                    .order_by(ArticleRevision.revision)
                )
            ]
            events = session.scalars(
                select(ArticleEvent)
                .where(ArticleEvent.article_id == row.id)
                .order_by(ArticleEvent.at, ArticleEvent.id)
            ).all()
        by_number = {rev["revision"]: rev for rev in revisions}
        for ev in events:
            target = by_number.get(ev.revision) or revisions[-1]
            target["events"].append(_event_dict(ev))
        return revisions

    def runs(self, portal_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Crawl runs, newest first (at most `limit`), of one portal or all."""
        stmt = select(CrawlRun).order_by(CrawlRun.id.desc())
        if portal_id is not None:
            stmt = stmt.where(CrawlRun.portal_id == portal_id)
        if limit is not None:
            stmt = stmt.limit(max(limit, 0))
        with self._read() as session:
            return [
                {
                    "id": run.id,
                    "portal": run.portal_id,
                    "started_at": run.started_at,
                    "finished_at": run.finished_at,
                    "status": run.status,
                    "sections": run.sections,
                    "args": run.args,
                    **{key: getattr(run, key) for key in RUN_COUNTERS},
                    "message": run.message,
                    "extra_stats": run.extra_stats,
                }
                for run in session.scalars(stmt)
            ]


def _insert_ignore(engine: Engine, model: type[Base], keys: list[str]) -> Any:
    """INSERT that skips rows clashing on `keys`, in the dialect's own words."""
    return dialect_insert(engine.dialect.name, model).on_conflict_do_nothing(index_elements=keys)


def _index_article(session: Session, article_id: int, record: dict[str, Any] | None = None) -> None:
    """Rewrite the article's row of the search index, in the transaction storing it.

    `record` is the version just stored (gold dict): PostgreSQL indexes it without
    reading it back; SQLite folds the stored row in SQL.
    """
    if session.get_bind().dialect.name != "postgresql":
        search.index_article(session, article_id)
    elif record is None:
        search_pg.index_article(session, article_id)
    else:
        captions = [img["caption"] for img in record["images"]]
        search_pg.index_document(
            session, article_id, record["title"], record["lead"], record["body"], captions
        )
