"""An article's history as a person reads it: each version, and what changed."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

# Single-valued fields compared line by line, in the order they are shown.
_SCALARS = ("url", "section", "title", "published", "lead", "credit")


def format_history(revisions: Sequence[dict[str, Any]]) -> str:
    """Revisions (as `Archive.history` returns them, oldest first) as readable text.

    One header line per revision; between consecutive revisions what changed:
    single fields as "- old" / "+ new", the body as a unified diff over
    paragraphs, images and attachments as added / removed. Removals and
    returns of the article are shown where they happened.
    """
    if not revisions:
        return "No archived revisions."
    latest = revisions[-1]
    count = len(revisions)
    lines = [f"{latest['url']}", f"{count} revision{'s' if count != 1 else ''}", ""]
    previous: dict[str, Any] | None = None
    for revision in revisions:
        if previous is not None:
            lines.append("")
        lines.append(_header(revision))
        if previous is None:
            lines.append(f"  title: {revision['title']}")
            lines.append(f"  published: {revision['published']}")
        else:
            changes = _changes(previous, revision)
            lines.extend(changes or ["  (no visible change)"])
        lines.extend(_event_line(event) for event in revision.get("events") or [])
        previous = revision
    return "\n".join(lines)


# "reparse": the same capture read again by a newer parser, not an edit by the portal.
_REASONS = {"new": "first seen", "edit": "edited", "reparse": "re-parsed"}


def _header(revision: dict[str, Any]) -> str:
    capture = revision.get("capture_id")
    parts = [
        f"Revision {revision['revision']}",
        revision["observed_at"],
        _REASONS.get(revision["reason"], revision["reason"]),
        f"parser {revision['parser_version']}",
        f"capture {capture}" if capture is not None else "no capture",
        f"hash {revision['content_hash'][:12]}",
    ]
    return " · ".join(parts)


def _event_line(event: dict[str, Any]) -> str:
    what = "Removed" if event["kind"] == "removed" else "Returned"
    parts = [f"{what} {event['at']}"]
    if event.get("detail"):
        parts.append(str(event["detail"]))
    if event.get("run_id") is not None:
        parts.append(f"run {event['run_id']}")
    return " · ".join(parts)


def _show(name: str, value: Any) -> str:
    if value is None:
        return "(none)"
    if name == "credit":
        roles = "; ".join(
            f"{label} {', '.join(value[key])}"
            for key, label in (
                ("text_by", "text by"),
                ("photo_by", "photos by"),
                ("source", "source"),
            )
            if value.get(key)
        )
        raw = value.get("raw") or ""
        return f"{raw} ({roles})" if raw and roles else raw or roles or "(empty)"
    return str(value)


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name in _SCALARS:
        if old.get(name) != new.get(name):
            lines += [f"  {name}:", f"    - {_show(name, old.get(name))}"]
            lines.append(f"    + {_show(name, new.get(name))}")
    old_body, new_body = list(old.get("body") or []), list(new.get("body") or [])
    if old_body != new_body:
        lines.append("  body:")
        diff = difflib.unified_diff(old_body, new_body, lineterm="", n=1)
        # Skip the "---" / "+++" file header lines: there are no files here.
        lines += [f"    {line}" for i, line in enumerate(diff) if i >= 2]
    lines += _list_changes(
        "images", old.get("images") or [], new.get("images") or [], "src", "caption"
    )
    lines += _list_changes(
        "attachments", old.get("attachments") or [], new.get("attachments") or [], "url", "name"
    )
    return lines


def _list_changes(
    name: str, old: list[dict[str, Any]], new: list[dict[str, Any]], key: str, label: str
) -> list[str]:
    if old == new:
        return []
    old_by = {item[key]: item.get(label) for item in old}
    new_by = {item[key]: item.get(label) for item in new}
    lines = [f"  {name}:"]

    def entry(sign: str, target: str, text: Any) -> str:
        return f"    {sign} {target}" + (f" ({text})" if text else "")

    lines += [entry("-", k, v) for k, v in old_by.items() if k not in new_by]
    lines += [entry("+", k, v) for k, v in new_by.items() if k not in old_by]
    for k in old_by.keys() & new_by.keys():
        if old_by[k] != new_by[k]:
            lines += [f"    {label} of {k}:", f"      - {old_by[k]}", f"      + {new_by[k]}"]
    if len(lines) == 1:
        lines.append("    (same items, new order)")
    return lines
