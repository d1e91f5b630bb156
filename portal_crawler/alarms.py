"""Alarms: a run that looks fine but is not.

A portal redesign rarely breaks a crawl outright: the listing still answers,
pages still parse, and the archive silently fills with articles without
dates, or with nothing at all. These checks compare a run with the portal's
own history and name what went wrong; a run with any alarm ends `degraded`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from statistics import median

from portal_crawler.parsing.article import Article

# (field, how to say it)
WATCHED_FIELDS = (
    ("published", "publication date"),
    ("published_time", "publication time"),
    ("credit", "by-line"),
    ("lead", "lead"),
    ("images", "images"),
    ("body", "body"),
)
MIN_HISTORY = 5  # articles the portal must have before its habits count
MIN_RUN = 3  # articles this run must have seen to judge it
HABIT = 0.95  # "always has it"
DROP = 0.20  # "suddenly > 20 % without it"
SILENCE_FACTOR = 3.0
MIN_SILENCE = 86400.0


def article_fields(article: Article) -> set[str]:
    """Which watched fields an extracted article has."""
    present = set()
    if article.published:
        present.add("published")
        if "T" in article.published:
            present.add("published_time")
    for name in ("credit", "lead", "images", "body"):
        if getattr(article, name):
            present.add(name)
    return present


@dataclass
class RunObservation:
    """What one run saw, for the alarms."""

    articles: int = 0  # article pages parsed (stored or failed validation)
    present: Counter[str] = field(default_factory=Counter)
    extraction_failures: int = 0
    empty_listings: list[tuple[str, str]] = field(default_factory=list)  # (section, url)
    failed_listings: list[tuple[str, str]] = field(default_factory=list)  # (section, why)
    new: int = 0
    unchanged: int = 0
    fetch_failures: int = 0
    # Article links on each section's first listing page, this run and usually.
    first_page_links: dict[str, int] = field(default_factory=dict)
    usual_first_page_links: dict[str, float] = field(default_factory=dict)
    # Listing pages walked when the PORTAL_MAX_LISTING_PAGES cap stopped the walk.
    pagination_stopped_at: int | None = None

    def observe(self, article: Article, *, valid: bool) -> None:
        self.articles += 1
        self.present.update(article_fields(article))
        if not valid:
            self.extraction_failures += 1


def usual_first_page_links(runs: list[dict]) -> dict[str, float]:
    """Median article links on each section's first listing page over recent good runs."""
    counts: dict[str, list[int]] = {}
    for run in runs:
        if run.get("status") != "finished":
            continue
        for section, links in (
            (run.get("extra_stats") or {}).get("first_page_links") or {}
        ).items():
            counts.setdefault(section, []).append(int(links))
    return {section: median(values[:10]) for section, values in counts.items() if values}


def check_alarms(
    portal_id: str,
    run: RunObservation,
    history: tuple[int, dict[str, float]],
    gap: tuple[float | None, float | None],
) -> list[str]:
    """Messages naming the portal and what looks broken; empty when all is well."""
    messages = [
        f"{portal_id}: the listing of section '{section}' yielded no article links "
        f"({url}); has the layout changed?"
        for section, url in run.empty_listings
    ]
    messages += [
        f"{portal_id}: a listing page of section '{section}' could not be read: {why}; "
        "has the section moved?"
        for section, why in run.failed_listings
    ]
    if run.pagination_stopped_at:
        messages.append(
            f"{portal_id}: pagination stopped after {run.pagination_stopped_at} listing pages "
            "(PORTAL_MAX_LISTING_PAGES); a pager that never ends, or a listing that long?"
        )
    for section, links in run.first_page_links.items():
        usual = run.usual_first_page_links.get(section)
        if links and usual and usual >= MIN_RUN and links <= usual / 2:
            messages.append(
                f"{portal_id}: the first listing page of section '{section}' shows {links} "
                f"article links (usually {usual:.0f}); has the layout changed?"
            )
    if run.extraction_failures >= MIN_RUN and run.extraction_failures == run.articles:
        messages.append(
            f"{portal_id}: none of the {run.articles} article pages could be extracted "
            "(no title, body or date); has the layout changed?"
        )
    if run.fetch_failures >= MIN_RUN and run.articles == 0 and run.unchanged == 0:
        messages.append(
            f"{portal_id}: none of the {run.fetch_failures} pages linked as articles could be "
            "fetched; do the listing's links still lead to articles?"
        )
    known, habits = history
    if known >= MIN_HISTORY and run.articles >= MIN_RUN:
        for name, label in WATCHED_FIELDS:
            usual = habits.get(name, 0.0)
            missing = 1 - run.present[name] / run.articles
            if usual >= HABIT and missing > DROP:
                messages.append(
                    f"{portal_id}: {missing:.0%} of this run's articles have no {label} "
                    f"(usually {1 - usual:.0%}); has the layout changed?"
                )
    typical, since = gap
    if run.new == 0 and typical and since and since > max(SILENCE_FACTOR * typical, MIN_SILENCE):
        messages.append(
            f"{portal_id}: no new article for {since / 86400:.1f} days "
            f"(usually every {typical / 86400:.1f} days); is the portal still publishing here?"
        )
    return messages
