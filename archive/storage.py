"""The archive: store parsed articles with their raw captures, and read them back."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event, func, insert, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, selectinload, sessionmaker

from archive.models import (
    RUN_COUNTERS,
    RUN_STATUSES,
    SCHEMA_VERSION,
    Article,
    ArticleUrl,
    Attachment,
    Base,
    Capture,
    CrawlRun,
    FetchFailure,
    Image,
    Meta,
    Portal,
    utc_now,
)
from archive.paths import default_db_path

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
_BATCH = 500
_SPACES = re.compile(r"\s+")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


class ArchiveError(Exception):
    """A request the archive cannot honour (unknown portal, bad argument, old schema)."""


@dataclass(frozen=True)
class StoreResult:
    status: StoreStatus
    article_id: int
    # None when an identical raw body was already stored for this article.
    capture_id: int | None = None


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
    }


def _check_since(since: str | None) -> None:
    if since is None:
        return
    try:
        ok = len(since) == 10 and date.fromisoformat(since) is not None
    except ValueError:
        ok = False
    if not ok:
        raise ArchiveError(f"'since' must be a date written YYYY-MM-DD, not {since!r}")


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
    database = url.database or ""
    is_file = database not in ("", ":memory:") and not database.startswith("file:")
    if url.get_backend_name() == "sqlite" and is_file:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    return url


def _connect_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling would hide our BEGIN; see _begin_sqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_sqlite(conn: Any) -> None:
    # A write transaction takes the write lock up front: a deferred one that reads
    # first fails outright (SQLITE_BUSY, no retry) if another process wrote meanwhile.
    immediate = conn.get_execution_options().get(_WRITE_OPTION)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _make_engine(url: URL) -> Engine:
    engine = create_engine(url, json_serializer=partial(json.dumps, ensure_ascii=False))
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _connect_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
    return engine


# --- the archive --------------------------------------------------------------


class Archive:
    """One archive database. Open with `Archive.open(path_or_url)`; use as a context manager."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine, expire_on_commit=False, execution_options={_WRITE_OPTION: True}
        )

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
        writer = self.engine.connect().execution_options(**{_WRITE_OPTION: True})
        with writer as conn, conn.begin():
            Base.metadata.create_all(conn)
            version = conn.scalar(select(Meta.value).where(Meta.key == "schema_version"))
            if version is None:
                conn.execute(insert(Meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif version != str(SCHEMA_VERSION):
                raise ArchiveError(
                    f"the archive has schema version {version}; this program "
                    f"reads version {SCHEMA_VERSION}"
                )

    def close(self) -> None:
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
        with self._write.begin() as session:
            portal = session.get(Portal, id)
            if portal is None:
                portal = Portal(id=id)
                session.add(portal)
            portal.name = _nfc(name) or id
            portal.base_url = base_url
            if province is not None:
                portal.province = _nfc(province)
            if cms is not None:
                portal.cms = cms

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

    def finish_run(self, run_id: int, status: str, stats: dict[str, int]) -> None:
        """Close a run with its final status and counters (see RUN_COUNTERS)."""
        if status not in RUN_STATUSES:
            raise ArchiveError(f"run status must be one of {', '.join(RUN_STATUSES)}")
        with self._write.begin() as session:
            run = session.get(CrawlRun, run_id)
            if run is None:
                raise ArchiveError(f"no crawl run with id {run_id}")
            run.status = status
            run.finished_at = utc_now()
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
    ) -> StoreResult:
        """Store one parsed article and its raw response, all in one transaction.

        The article is the one already known by its canonical or fetched URL
        ("unchanged" or "changed"), else one of the same portal with the same
        content hash ("duplicate": the new URL becomes an alias), else "new".
        """
        record = _gold_record(article)
        digest = content_hash(record)
        body_sha = hashlib.sha256(raw_body).hexdigest()
        urls = list(dict.fromkeys([record["url"], fetched_url]))
        now = utc_now()
        with self._write.begin() as session:
            portal = self._portal(session, portal_id)
            if portal.first_crawled_at is None:
                portal.first_crawled_at = now
            known = dict(
                session.execute(
                    select(ArticleUrl.url, ArticleUrl.article_id).where(ArticleUrl.url.in_(urls))
                ).all()
            )
            row, status = self._match(session, portal_id, urls, known, digest)
            if row is None:
                row = Article(
                    portal_id=portal_id, url=record["url"], first_seen_at=now, last_seen_at=now
                )
                _apply_content(row, record, digest, parser_version)
                _replace_children(session, row, record)
                session.add(row)
                session.flush()
            elif status == "changed":
                _apply_content(row, record, digest, parser_version)
                _replace_children(session, row, record)
            row.last_seen_at = now
            session.add_all(
                ArticleUrl(url=url, article_id=row.id, first_seen_at=now)
                for url in urls
                if url not in known
            )
            capture = None
            if status == "new" or not self._has_capture(session, row.id, body_sha):
                capture = Capture(
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
                session.add(capture)
                session.flush()
            return StoreResult(status, row.id, capture.id if capture else None)

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
            row = session.get(Article, by_url)
            assert row is not None  # the foreign key guarantees it
            return row, "unchanged" if row.content_hash == digest else "changed"
        row = session.scalars(
            select(Article)
            .where(Article.content_hash == digest, Article.portal_id == portal_id)
            .order_by(Article.id)
            .limit(1)
        ).first()
        return row, "duplicate" if row is not None else "new"

    @staticmethod
    def _has_capture(session: Session, article_id: int, body_sha: str) -> bool:
        stmt = select(Capture.id).where(
            Capture.article_id == article_id, Capture.body_sha256 == body_sha
        )
        return session.scalars(stmt.limit(1)).first() is not None

    @staticmethod
    def _portal(session: Session, portal_id: str) -> Portal:
        portal = session.get(Portal, portal_id)
        if portal is None:
            raise ArchiveError(f"unknown portal {portal_id!r}: call upsert_portal first")
        return portal

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
        self, portal_id: str | None = None, since: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Stored articles as gold dicts plus portal, content_hash, first/last_seen_at.

        Ordered by portal, published, id. `since` (YYYY-MM-DD, inclusive) keeps
        articles published on or after that date in the portal's local time.
        """
        _check_since(since)
        stmt = select(Article).options(
            selectinload(Article.images), selectinload(Article.attachments)
        )
        if portal_id is not None:
            stmt = stmt.where(Article.portal_id == portal_id)
        if since is not None:
            stmt = stmt.where(Article.published_date >= since)
        stmt = stmt.order_by(
            Article.portal_id, Article.published.asc().nulls_last(), Article.id
        ).execution_options(yield_per=_BATCH)
        with self._read() as session:
            for row in session.scalars(stmt):
                yield _article_dict(row)

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

    def failures(self, run_id: int | None = None) -> list[dict[str, Any]]:
        stmt = select(FetchFailure).order_by(FetchFailure.id)
        if run_id is not None:
            stmt = stmt.where(FetchFailure.run_id == run_id)
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

    def runs(self, portal_id: str | None = None) -> list[dict[str, Any]]:
        stmt = select(CrawlRun).order_by(CrawlRun.id)
        if portal_id is not None:
            stmt = stmt.where(CrawlRun.portal_id == portal_id)
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
                    "extra_stats": run.extra_stats,
                }
                for run in session.scalars(stmt)
            ]
