"""The archive of crawled portal articles: SQLite (SQLAlchemy) storage and JSONL export.

Knows nothing of the crawler: anything that has gold-format article dicts can use it.
"""

from archive.errors import ArchiveError, LockHeld
from archive.export import (
    EXPORT_KEYS,
    EXPORT_SCHEMA_VERSION,
    ExportFilter,
    export_csv,
    export_jsonl,
    iter_records,
    read_csv,
    read_jsonl,
    write_export,
)
from archive.folding import fold
from archive.habits import PRESENCE_FIELDS, field_fractions, fields_present
from archive.history import format_history
from archive.models import RUN_COUNTERS, RUN_STATUSES, SCHEMA_VERSION, utc_now
from archive.paths import default_db_path
from archive.query import QueryError, parse_query
from archive.runlog import format_runs
from archive.search import RANK_WINDOW, SearchResults
from archive.stats import format_stats
from archive.storage import (
    GOLD_KEYS,
    Archive,
    ArticleState,
    StoreResult,
    content_hash,
)

__all__ = [
    "EXPORT_KEYS",
    "EXPORT_SCHEMA_VERSION",
    "GOLD_KEYS",
    "PRESENCE_FIELDS",
    "RANK_WINDOW",
    "RUN_COUNTERS",
    "RUN_STATUSES",
    "SCHEMA_VERSION",
    "Archive",
    "ArchiveError",
    "ArticleState",
    "ExportFilter",
    "LockHeld",
    "QueryError",
    "SearchResults",
    "StoreResult",
    "content_hash",
    "default_db_path",
    "export_csv",
    "export_jsonl",
    "field_fractions",
    "fields_present",
    "fold",
    "format_history",
    "format_runs",
    "format_stats",
    "iter_records",
    "parse_query",
    "read_csv",
    "read_jsonl",
    "utc_now",
    "write_export",
]
