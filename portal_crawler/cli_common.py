"""What every `portal-archive` subcommand module shares: the --db help, errors, opening."""

from __future__ import annotations

import sys
from pathlib import Path

from archive import Archive, default_db_path

DB_HELP = (
    "SQLite archive file or SQLAlchemy URL "
    "(default: $PORTAL_ARCHIVE_DB, else $XDG_DATA_HOME/portal-archive/archive.sqlite)"
)


def die(message: str, code: int = 2) -> int:
    """Print a one-line error the way argparse does, and return the exit code."""
    print(f"portal-archive: error: {message}", file=sys.stderr)
    return code


def open_existing(db: str | None) -> Archive | None:
    """The archive at `db` (or the default), or None (with an error) when there is none."""
    path = db or default_db_path()
    # A URL names a database server (or a SQLite URL): the archive checks it on open.
    if "://" not in str(path) and not Path(path).exists():
        die(f"no archive at {path}; run `portal-archive crawl` first", 1)
        return None
    return Archive.open(path)
