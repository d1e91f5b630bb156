"""Sets that stay flat in memory however long the crawl: they live in SQLite on disk.

A crawl of a 100,000-article portal meets some 300,000 URLs (articles, listing
pages, images). Kept in Python sets — Scrapy's own duplicate filter, the
spider's requested URLs, the dedup pipeline's stored URLs — they would grow by
tens of MB per 100,000 (scrapy#5307). Here each is a table in a private
temporary SQLite database (``sqlite3.connect("")``: on disk, deleted on close)
with a small page cache, keyed by a 16-byte digest.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from typing import Any

from scrapy.dupefilters import RFPDupeFilter

# Pages of the temporary database kept in memory, in KiB (SQLite's negative form).
CACHE_KIB = 2048


class DiskSet:
    """A set of str or bytes members with `in`, `add`, `update` and `len`.

    Members are stored as a 16-byte BLAKE2b digest: a collision among a billion
    members has a probability below 1e-20.
    """

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE members (k BLOB PRIMARY KEY) WITHOUT ROWID")
        self._len = 0

    @staticmethod
    def _key(member: str | bytes) -> bytes:
        data = member.encode("utf-8", "surrogatepass") if isinstance(member, str) else member
        return hashlib.blake2b(data, digest_size=16).digest()

    def add(self, member: str | bytes) -> bool:
        """Add a member; True if it was not there yet."""
        added = self._db.execute(
            "INSERT OR IGNORE INTO members VALUES (?)", (self._key(member),)
        ).rowcount
        self._len += added
        return added == 1

    def update(self, members: Iterable[str | bytes]) -> None:
        for member in members:
            self.add(member)

    def __contains__(self, member: object) -> bool:
        if not isinstance(member, str | bytes):
            return False
        row = self._db.execute("SELECT 1 FROM members WHERE k = ?", (self._key(member),))
        return row.fetchone() is not None

    def __len__(self) -> int:
        return self._len

    def close(self) -> None:
        self._db.close()


class DiskDupeFilter(RFPDupeFilter):
    """Scrapy's duplicate filter, its fingerprints in a DiskSet instead of a set.

    Everything else (fingerprints, JOBDIR's requests.seen, logging) is Scrapy's.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._disk = DiskSet()
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def _fingerprints(self) -> DiskSet:
        return self._disk

    @_fingerprints.setter
    def _fingerprints(self, _value: object) -> None:
        # RFPDupeFilter.__init__ assigns a fresh set; the DiskSet stays.
        pass

    def close(self, reason: str) -> None:
        super().close(reason)
        self._disk.close()
