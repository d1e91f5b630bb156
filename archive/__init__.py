"""The archive of crawled portal articles: SQLite (SQLAlchemy) storage and JSONL export.

Knows nothing of the crawler: anything that has gold-format article dicts can use it.
"""

from archive.errors import ArchiveError, LockHeld
from archive.export import EXPORT_KEYS, export_jsonl, read_jsonl
from archive.habits import PRESENCE_FIELDS, field_fractions, fields_present
from archive.history import format_history
from archive.models import RUN_COUNTERS, RUN_STATUSES, SCHEMA_VERSION, utc_now
from archive.paths import default_db_path
from archive.runlog import format_runs
from archive.storage import (
    GOLD_KEYS,
    Archive,
    ArticleState,
    StoreResult,
    content_hash,
)

__all__ = [
    "EXPORT_KEYS",
    "GOLD_KEYS",
    "PRESENCE_FIELDS",
    "RUN_COUNTERS",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
    "ArticleState",
    "LockHeld",
    "StoreResult",
    "content_hash",
    "default_db_path",
    "export_jsonl",
    "field_fractions",
    "fields_present",
    "format_history",
    "format_runs",
    "read_jsonl",
    "utc_now",
]
