"""The run log as a table for a terminal (`portal-archive runs`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# (heading, key in a run dict, right-aligned)
_COLUMNS = (
    ("started (UTC)", "started_at", False),
    ("ended (UTC)", "finished_at", False),
    ("portal", "portal", False),
    ("status", "status", False),
    ("pages", "pages", True),
    ("requests", "requests", True),
    ("bytes", "bytes", True),
    ("new", "new", True),
    ("changed", "changed", True),
    ("unchanged", "unchanged", True),
    ("removed", "removed", True),
    ("failed", "failed", True),
    ("message", "message", False),
)


def format_size(count: int | None) -> str:
    """Bytes in decimal units, three significant figures at most: 950 B, 1.2 kB, 38 MB."""
    value = float(count or 0)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 999.5 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" or value >= 9.95 else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _cell(key: str, run: dict[str, Any]) -> str:
    value = run.get(key)
    if key == "bytes":
        return format_size(value)
    if key in ("started_at", "finished_at"):
        return value.replace("T", " ").rstrip("Z") if value else "-"
    if value is None:
        return "" if key == "message" else "-"
    return str(value)


def format_runs(runs: Sequence[dict[str, Any]]) -> str:
    """Runs (as `Archive.runs` returns them) as a fixed-width table, one run a line."""
    if not runs:
        return "No crawl runs recorded."
    table = [[heading for heading, _, _ in _COLUMNS]]
    table += [[_cell(key, run) for _, key, _ in _COLUMNS] for run in runs]
    widths = [max(len(row[i]) for row in table) for i in range(len(_COLUMNS))]
    lines = []
    for row in table:
        cells = [
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, (_, _, right) in zip(row, widths, _COLUMNS, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
