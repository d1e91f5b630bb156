"""The archive's exceptions."""

from __future__ import annotations


class ArchiveError(Exception):
    """A request the archive cannot honour (unknown portal, bad argument, old schema)."""


class LockHeld(ArchiveError):
    """Another live crawl holds the portal's lock."""
