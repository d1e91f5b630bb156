"""A portal's habits, from its history: the inputs of the crawler's alarms.

Which fields its articles usually have (a redesign that breaks extraction shows
as a sudden drop), and how often it usually publishes (silence shows as a gap
much longer than usual).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive.models import Article, ArticleRevision, CrawlRun, parse_utc

PRESENCE_FIELDS = ("published", "published_time", "lead", "credit", "images", "body")
MIN_RUNS_FOR_GAP = 3


def fields_present(article: Mapping[str, Any]) -> set[str]:
    """Which of PRESENCE_FIELDS a gold-format article has."""
    names = ("published", "lead", "credit", "images", "body")
    present = {name for name in names if article.get(name)}
    if "T" in (article.get("published") or ""):
        present.add("published_time")
    return present


def field_fractions(articles: Iterable[Mapping[str, Any]]) -> tuple[int, dict[str, float]]:
    """How many articles, and per field the fraction that has it (0.0 for none)."""
    count = 0
    totals = dict.fromkeys(PRESENCE_FIELDS, 0)
    for article in articles:
        count += 1
        for name in fields_present(article):
            totals[name] += 1
    return count, {name: (totals[name] / count if count else 0.0) for name in PRESENCE_FIELDS}


def field_presence(
    session: Session, portal_id: str, *, last: int, exclude_run: int | None
) -> tuple[int, dict[str, float]]:
    """Field fractions over the portal's `last` newest articles, as first stored.

    With `exclude_run`, only articles stored before that run began count, so a
    run is judged against the history before it.
    """
    stmt = (
        select(ArticleRevision)
        .join(Article, Article.id == ArticleRevision.article_id)
        .where(Article.portal_id == portal_id, ArticleRevision.revision == 1)
    )
    if exclude_run is not None:
        stmt = stmt.where(
            or_(ArticleRevision.run_id.is_(None), ArticleRevision.run_id != exclude_run)
        )
        run = session.get(CrawlRun, exclude_run)
        if run is not None:
            stmt = stmt.where(ArticleRevision.observed_at <= run.started_at)
    stmt = stmt.order_by(ArticleRevision.observed_at.desc(), ArticleRevision.id.desc()).limit(
        max(last, 0)
    )
    revisions = session.scalars(stmt).all()
    return field_fractions(
        {
            "published": r.published,
            "lead": r.lead,
            "credit": r.credit,
            "images": r.images,
            "body": r.body,
        }
        for r in revisions
    )


def discovery_gap(
    session: Session, portal_id: str, now: datetime
) -> tuple[float | None, float | None]:
    """(typical seconds between runs that found new articles, seconds since the last one).

    The typical gap is the median between consecutive such runs, leaving out the
    portal's first run (it finds the whole back catalogue, not what was just
    published); None with fewer than MIN_RUNS_FOR_GAP of them. A run found new
    articles if it says so or stored first revisions (a killed run says nothing).
    """
    first_run = session.scalar(
        select(CrawlRun.id)
        .where(CrawlRun.portal_id == portal_id)
        .order_by(CrawlRun.started_at, CrawlRun.id)
        .limit(1)
    )
    if first_run is None:
        return None, None
    storing_runs = select(ArticleRevision.run_id).where(
        ArticleRevision.revision == 1, ArticleRevision.run_id.is_not(None)
    )
    starts = [
        (run_id, parse_utc(started))
        for run_id, started in session.execute(
            select(CrawlRun.id, CrawlRun.started_at)
            .where(
                CrawlRun.portal_id == portal_id,
                or_(CrawlRun.new > 0, CrawlRun.id.in_(storing_runs)),
            )
            .order_by(CrawlRun.started_at, CrawlRun.id)
        ).all()
    ]
    if not starts:
        return None, None
    since_last = max(0.0, (now - starts[-1][1]).total_seconds())
    later = [started for run_id, started in starts if run_id != first_run]
    if len(later) < MIN_RUNS_FOR_GAP:
        return None, since_last
    gaps = [(b - a).total_seconds() for a, b in zip(later, later[1:], strict=False)]
    return float(median(gaps)), since_last
