"""Where the archive lives when the caller does not say."""

from __future__ import annotations

import os
from pathlib import Path

ENV_DB = "PORTAL_ARCHIVE_DB"
APP_DIR = "portal-archive"
DB_FILE = "archive.sqlite"


def default_db_path() -> Path | str:
    """The archive: $PORTAL_ARCHIVE_DB (a file, or a database URL passed on as it is),
    else archive.sqlite under $XDG_DATA_HOME (~/.local/share).

    Nothing is created here; `Archive.open` makes the parent folders.
    """
    explicit = os.environ.get(ENV_DB)
    if explicit:
        return explicit if "://" in explicit else Path(explicit).expanduser()
    return _default_folder() / DB_FILE


def _default_folder() -> Path:
    # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    xdg = os.environ.get("XDG_DATA_HOME")
    data_home = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return data_home / APP_DIR


def data_dir_for(db: str | Path | None) -> Path:
    """The data directory of an archive: the folder of its SQLite file.

    WARC files (warc/) and media files (media/) live there, next to the database,
    so that copying the folder copies the whole archive. A database that is not a
    local file (a PostgreSQL URL, ":memory:") uses the default archive's folder.
    """
    if db is None:
        db = default_db_path()
    text = str(db)
    if "://" in text:
        from sqlalchemy.engine import make_url

        url = make_url(text)
        database = url.database or ""
        if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
            return _default_folder()
        return Path(database).expanduser().resolve().parent
    if text == ":memory:":
        return _default_folder()
    return Path(text).expanduser().resolve().parent
