"""`portal-archive reparse`: extract every stored article again from its raw capture.

No network: the bytes come from the archive's captures, the parser and the
profiles are local. A field the current parser extracts differently becomes a
revision with the reason "reparse" and the parser's version (see
archive.reparse), never an "edit" by the portal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archive.media import link_article
from archive.reparse import ReparseSource, apply_reparse, reparse_sources
from portal_crawler.parsing import PARSER_VERSION, parse_article
from portal_crawler.parsing.article import missing_fields
from portal_crawler.profiles import Profile, ProfileError, generic_profile, get_profile


@dataclass
class ReparseSummary:
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (url, why)

    @property
    def unchanged(self) -> int:
        return self.checked - len(self.changed) - len(self.failed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "parser_version": PARSER_VERSION,
            "checked": self.checked,
            "changed": len(self.changed),
            "unchanged": self.unchanged,
            "failed": len(self.failed),
            "changed_urls": self.changed,
            "failures": [{"url": url, "reason": why} for url, why in self.failed],
        }


def _profile(portal_id: str, url: str, cache: dict[str, Profile]) -> Profile:
    if portal_id not in cache:
        try:
            cache[portal_id] = get_profile(portal_id)
        except ProfileError:
            # A portal crawled without a profile (`crawl --url`): generic rules.
            cache[portal_id] = generic_profile(url)
    return cache[portal_id]


def _rebase(source: ReparseSource) -> Callable[[str], str] | None:
    """Map links to the mirror the page was fetched from back to the live portal."""
    mirror = (source.mirror or "").rstrip("/")
    if not mirror:
        return None
    live = "/".join(source.url.split("/", 3)[:3])

    def rebase(url: str) -> str:
        return live + url[len(mirror) :] if url.startswith(mirror) else url

    return rebase


def reparse_archive(
    archive: Any,
    portal_id: str | None = None,
    since: str | None = None,
    *,
    dry_run: bool = False,
) -> ReparseSummary:
    """Re-parse the archive's articles (of a portal; published on/after `since`)."""
    summary = ReparseSummary()
    profiles: dict[str, Profile] = {}
    for source in reparse_sources(archive, portal_id, since):
        summary.checked += 1
        article = parse_article(
            source.fetched_url,
            source.body,
            source.headers,
            profile=_profile(source.portal_id, source.url, profiles),
            section=source.section,
            rebase=_rebase(source),
        )
        problems = missing_fields(article)
        if problems:
            # Keep what is stored rather than an article the parser lost.
            summary.failed.append((source.url, "extraction failed: " + ", ".join(problems)))
            continue
        record = article.to_dict()
        if apply_reparse(archive, source, record, parser_version=PARSER_VERSION, dry_run=dry_run):
            summary.changed.append(source.url)
            if not dry_run:
                link_article(archive, source.article_id)
    return summary
