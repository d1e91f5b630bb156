"""Schema versions: create a new archive, upgrade an older one in place, refuse a newer one.

The version an archive has is its Alembic revision (table alembic_version), or,
for archives older than the migrations, meta.schema_version. Upgrading first
copies the file next to itself ("archive.v1-backup.sqlite"), then runs the
migrations in one transaction with foreign-key enforcement off (SQLite rebuilds
altered tables by copying them, which must not cascade deletes), checks the
foreign keys, and commits: a failed upgrade leaves the archive as it was.
On PostgreSQL there is no file to copy, tables are altered in place, and
processes opening the database at once create or upgrade it one after the other.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, MetaData, String, Table, insert, inspect, select, text
from sqlalchemy.engine import Connection

from archive import sqlobjects
from archive.errors import ArchiveError
from archive.models import SCHEMA_VERSION, Base, Meta

log = logging.getLogger("archive")

# Schema version → Alembic revision of archive/migrations/versions.
REVISIONS = {1: "0001", 2: "0002", 3: "0003", 4: "0004", 5: "0005"}
HEAD = REVISIONS[SCHEMA_VERSION]
_VERSIONS = {rev: version for version, rev in REVISIONS.items()}

# Alembic's own bookkeeping table, written by hand for a new archive so that
# creating one does not need to load Alembic.
_ALEMBIC = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), primary_key=True),
)


@dataclass(frozen=True)
class Upgrade:
    """What opening the archive did: the version it had, where its backup is."""

    from_version: int
    to_version: int
    backup: Path | None


def stored_version(conn: Connection) -> int | None:
    """The archive's schema version; None for a database with no archive in it yet.

    A version or revision this program does not know means a newer program wrote
    the archive: raises ArchiveError.
    """
    tables = set(inspect(conn).get_table_names())
    by_alembic = by_meta = None
    if "alembic_version" in tables:
        rev = conn.scalar(select(_ALEMBIC.c.version_num))
        if rev is not None and rev not in _VERSIONS:
            raise ArchiveError(_newer_message(f"revision {rev}"))
        by_alembic = _VERSIONS.get(rev) if rev is not None else None
    if "meta" in tables:
        value = conn.scalar(select(Meta.value).where(Meta.key == "schema_version"))
        if value is not None:
            try:
                by_meta = int(value)
            except ValueError:
                raise ArchiveError(
                    f"the archive's schema version {value!r} is not a number"
                ) from None
    if by_meta is not None and by_meta > SCHEMA_VERSION:
        raise ArchiveError(_newer_message(f"version {by_meta}"))
    return by_alembic if by_alembic is not None else by_meta


def _newer_message(what: str) -> str:
    return (
        f"the archive has schema {what}, written by a newer portal-archive; this program "
        f"reads schema version {SCHEMA_VERSION} and older: upgrade portal-archive to open it"
    )


def prepare(engine: Engine, write_options: dict[str, Any]) -> Upgrade | None:
    """Make the database an archive of the current version: create, upgrade or refuse."""
    with engine.connect() as conn:
        version = stored_version(conn)
        complete = (
            version != SCHEMA_VERSION
            or conn.dialect.name != "postgresql"
            or sqlobjects.has_search_index(conn)
        )
    if version == SCHEMA_VERSION and complete:
        return None
    if version is None or not complete:
        with engine.connect().execution_options(**write_options) as conn, conn.begin():
            _serialize(conn)
            # Another process may have created it since we looked.
            version = stored_version(conn)
            if version is None:
                _create(conn)
                return None
            if version == SCHEMA_VERSION and not sqlobjects.has_search_index(conn):
                # A PostgreSQL archive made before search worked there.
                sqlobjects.create_search_index(conn)
    if version == SCHEMA_VERSION:
        return None
    return _upgrade(engine, write_options)


# Any fixed number: the key of the advisory lock that schema changes take.
_SCHEMA_LOCK = 0x706F7274616C  # "portal"


def _serialize(conn: Connection) -> None:
    """Make processes opening a PostgreSQL archive at once create or upgrade it one by one.

    (SQLite's write transactions are serialised already: BEGIN IMMEDIATE.) The lock
    ends with the transaction; DDL is transactional there, so the next one sees it all.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})


def _create(conn: Connection) -> None:
    Base.metadata.create_all(conn)
    sqlobjects.create(conn)
    conn.execute(insert(Meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
    _ALEMBIC.create(conn)
    conn.execute(insert(_ALEMBIC).values(version_num=HEAD))


def _upgrade(engine: Engine, write_options: dict[str, Any]) -> Upgrade | None:
    from alembic import command

    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if sqlite:
            # Only outside a transaction does this take effect.
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.execution_options(**write_options).begin():
                _serialize(conn)
                version = stored_version(conn)  # under the write lock now
                if version is None or version >= SCHEMA_VERSION:
                    return None
                backup = _backup(engine, version) if sqlite else None
                if not inspect(conn).has_table("alembic_version"):
                    _ALEMBIC.create(conn)
                    conn.execute(insert(_ALEMBIC).values(version_num=REVISIONS[version]))
                command.upgrade(alembic_config(conn), "head")
                if sqlite:
                    broken = conn.execute(text("PRAGMA foreign_key_check")).fetchall()
                    if broken:
                        raise ArchiveError(
                            f"upgrading the archive would break {len(broken)} references "
                            f"(first: {tuple(broken[0])}); it was left as it was"
                        )
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")
    log.warning(
        "upgraded the archive from schema version %s to %s%s",
        version,
        SCHEMA_VERSION,
        f"; the old file is kept as {backup}" if backup else "",
    )
    return Upgrade(version, SCHEMA_VERSION, backup)


def alembic_config(conn: Connection) -> Any:
    """An Alembic Config that runs archive/migrations on this connection (no alembic.ini)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = conn
    return config


def backup_path(db_file: Path, version: int) -> Path:
    """Where the copy of an archive of `version` goes: beside it, named with the version."""
    candidate = db_file.with_name(f"{db_file.stem}.v{version}-backup{db_file.suffix}")
    n = 2
    while candidate.exists():
        candidate = db_file.with_name(f"{db_file.stem}.v{version}-backup-{n}{db_file.suffix}")
        n += 1
    return candidate


def _backup(engine: Engine, version: int) -> Path | None:
    database = engine.url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    target = backup_path(Path(database), version)
    # SQLite's online backup: a consistent copy, whatever the WAL holds.
    source = sqlite3.connect(database)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return target
