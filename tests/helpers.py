"""Shared test helpers: where the snapshot fixtures live and what their gold says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(__file__).parent / "fixtures" / "portals"
SNAPSHOT_IDS = ("anbien", "hailang", "mocaynam", "tanthanh", "trieuson")


def snapshot_dir(portal_id: str) -> Path:
    return FIXTURES_DIR / portal_id


def load_site(portal_id: str) -> dict[str, Any]:
    return json.loads((snapshot_dir(portal_id) / "site.json").read_text(encoding="utf-8"))


def _read_gold_dir(folder: Path) -> dict[str, dict[str, Any]]:
    if not folder.is_dir():
        return {}
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.json"))
    }


def load_gold(portal_id: str, later: bool = False) -> dict[str, dict[str, Any]]:
    """Gold articles by slug.

    With later=True this is every article a perfect archive holds in the later state:
    gold/ without the removed slugs, with gold-later/ adding the new articles and
    replacing the changed ones.
    """
    root = snapshot_dir(portal_id)
    gold = _read_gold_dir(root / "gold")
    if not later:
        return gold
    removed = set(load_site(portal_id).get("later", {}).get("removed", []))
    merged = {slug: article for slug, article in gold.items() if slug not in removed}
    merged.update(_read_gold_dir(root / "gold-later"))
    return merged
