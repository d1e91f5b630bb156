"""The archive of crawled portal articles: SQLite (SQLAlchemy) storage and JSONL export.

Knows nothing of the crawler: anything that has gold-format article dicts can use it.
"""

from archive.export import EXPORT_KEYS, export_jsonl, read_jsonl
from archive.models import RUN_COUNTERS, RUN_STATUSES, SCHEMA_VERSION, utc_now
from archive.paths import default_db_path
from archive.storage import (
    GOLD_KEYS,
    Archive,
    ArchiveError,
    StoreResult,
    content_hash,
)

__all__ = [
    "EXPORT_KEYS",
    "GOLD_KEYS",
    "RUN_COUNTERS",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
    "StoreResult",
    "content_hash",
    "default_db_path",
    "export_jsonl",
    "read_jsonl",
    "utc_now",
]
