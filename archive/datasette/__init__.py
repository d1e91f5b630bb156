"""Datasette metadata for an archive: titles, descriptions, facets, the search.

metadata.json (shipped beside this file) is written for a database file named
archive.sqlite; `metadata(db)` renames it for another file, since Datasette keys
a database by its file name without the extension.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from archive.models import SCHEMA_VERSION

TEMPLATE_NAME = "archive"


def metadata(db: str | Path | None = None) -> dict[str, Any]:
    """The Datasette metadata for the archive file `db` (default: archive.sqlite)."""
    text = resources.files(__name__).joinpath("metadata.json").read_text(encoding="utf-8")
    data = json.loads(text)
    database = data["databases"].pop(TEMPLATE_NAME)
    database["description"] = database["description"].format(schema_version=SCHEMA_VERSION)
    name = Path(str(db)).stem if db is not None else TEMPLATE_NAME
    data["databases"][name] = database
    return data


def write_metadata(db: str | Path | None, out: str | Path) -> Path:
    """Write the metadata for `db` to the file `out` (JSON); return its path."""
    path = Path(out)
    path.write_text(json.dumps(metadata(db), ensure_ascii=False, indent=2) + "\n", "utf-8")
    return path
