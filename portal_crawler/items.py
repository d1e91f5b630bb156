"""What the spider hands to the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ArticleItem:
    """A parsed article page and the raw capture it came from."""

    portal_id: str
    article: dict[str, Any]  # gold-format dict (Article.to_dict())
    fetched_url: str  # live URL the page was fetched at (mirror origin mapped back)
    http_status: int
    headers: dict[str, str]
    raw_body: bytes
    parser_version: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class FetchFailureItem:
    """A URL that could not be archived, and why."""

    portal_id: str
    url: str
    reason: str
    http_status: int | None = None
