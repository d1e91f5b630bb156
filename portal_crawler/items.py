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
    # The URL the listing linked (before redirects), so the frontier entry is cleared.
    requested_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # log lines name the article, not its bytes
        return f"ArticleItem({self.article.get('url')!r}, status={self.http_status})"


@dataclass
class FetchFailureItem:
    """A URL that could not be archived, and why."""

    portal_id: str
    url: str
    reason: str
    http_status: int | None = None
    # The page is gone (404/410, or redirected to the home page): an archived
    # article at this URL gets a tombstone rather than a failure.
    gone: bool = False
    # A failure a later run may not see again (5xx, network, parse): "partial".
    transient: bool = True


@dataclass
class NotModifiedItem:
    """A re-checked article answered 304 Not Modified."""

    portal_id: str
    url: str


@dataclass
class DuplicateItem:
    """An article page reached a second time in one run (another URL, same article)."""

    portal_id: str
    urls: list[str]
