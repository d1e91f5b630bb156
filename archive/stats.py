"""What the archive holds, per portal: articles by month, the last run, failures."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from archive.models import Article, ArticleRevision, CrawlRun, FetchFailure, Portal
from archive.runlog import format_size

TOP_REASONS = 3


def collect(session: Session) -> dict[str, Any]:
    """Totals, one entry per portal, and article counts per portal and month."""
    month = func.substr(Article.published_date, 1, 7)
    per_month = session.execute(
        select(Article.portal_id, month, func.count())
        .group_by(Article.portal_id, month)
        .order_by(Article.portal_id, month)
    ).all()
    article_rows = session.execute(
        select(
            Article.portal_id,
            func.count(),
            func.count(Article.removed_at),
            func.count(case((Article.revision > 1, 1))),
            func.min(Article.published_date),
            func.max(Article.published_date),
        ).group_by(Article.portal_id)
    ).all()
    articles = {row[0]: row[1:] for row in article_rows}
    last_run_ids = select(func.max(CrawlRun.id)).group_by(CrawlRun.portal_id)
    last_runs = {
        run.portal_id: run
        for run in session.scalars(select(CrawlRun).where(CrawlRun.id.in_(last_run_ids)))
    }
    failures: dict[str, Counter[str]] = defaultdict(Counter)
    for portal_id, reason, count in session.execute(
        select(FetchFailure.portal_id, FetchFailure.reason, func.count()).group_by(
            FetchFailure.portal_id, FetchFailure.reason
        )
    ):
        failures[portal_id][reason] = count
    in_last_run = dict(
        session.execute(
            select(FetchFailure.portal_id, func.count())
            .where(FetchFailure.run_id.in_([run.id for run in last_runs.values()]))
            .group_by(FetchFailure.portal_id)
        ).all()
    )
    portals = []
    for portal in session.scalars(select(Portal).order_by(Portal.id)):
        count, removed, edited, first, last = articles.get(portal.id, (0, 0, 0, None, None))
        run = last_runs.get(portal.id)
        reasons = failures.get(portal.id, Counter())
        portals.append(
            {
                "portal": portal.id,
                "name": portal.name,
                "province": portal.province,
                "articles": count,
                "removed": removed,
                "edited": edited,
                "first_published": first,
                "last_published": last,
                "last_run": None if run is None else _run(run),
                "failures": sum(reasons.values()),
                "failures_in_last_run": in_last_run.get(portal.id, 0),
                "top_failure_reasons": [
                    {"reason": reason, "count": n} for reason, n in reasons.most_common(TOP_REASONS)
                ],
            }
        )
    return {
        "totals": {
            "portals": len(portals),
            "articles": sum(p["articles"] for p in portals),
            "removed": sum(p["removed"] for p in portals),
            "revisions": session.scalar(select(func.count()).select_from(ArticleRevision)) or 0,
            "runs": session.scalar(select(func.count()).select_from(CrawlRun)) or 0,
            "failures": sum(p["failures"] for p in portals),
        },
        "portals": portals,
        "months": [
            {"portal": portal_id, "month": month_, "articles": n}
            for portal_id, month_, n in per_month
        ],
    }


def _run(run: CrawlRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "new": run.new,
        "failed": run.failed,
        "bytes": run.bytes,
        "message": run.message,
    }


# --- text ---------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def format_stats(stats: dict[str, Any]) -> str:
    """The output of `collect` for a terminal: portals, months, failures."""
    totals = stats["totals"]
    lines = [
        f"{totals['portals']} portals, {totals['articles']} articles "
        f"({totals['removed']} removed by their portal), {totals['revisions']} revisions, "
        f"{totals['runs']} crawl runs, {totals['failures']} failures",
    ]
    if not stats["portals"]:
        return lines[0]
    rows = [["portal", "articles", "removed", "edited", "published", "last run (UTC)"]]
    for p in stats["portals"]:
        run = p["last_run"]
        moment = (run["finished_at"] or run["started_at"]) if run else ""
        when = moment.replace("T", " ").rstrip("Z")
        rows.append(
            [
                p["portal"],
                str(p["articles"]),
                str(p["removed"]),
                str(p["edited"]),
                f"{p['first_published']} … {p['last_published']}" if p["articles"] else "-",
                f"{run['status']} {when} (run {run['id']}, {format_size(run['bytes'])})"
                if run
                else "never crawled",
            ]
        )
    lines += ["", *_table(rows, {1, 2, 3})]

    lines += ["", "Articles per month of publication (the portal's local date)"]
    grid: dict[tuple[str, str], list[int]] = {}
    undated: dict[str, int] = {}
    for entry in stats["months"]:
        if not entry["month"]:
            undated[entry["portal"]] = entry["articles"]
            continue
        year, month = entry["month"][:4], int(entry["month"][5:7])
        grid.setdefault((entry["portal"], year), [0] * 12)[month - 1] = entry["articles"]
    rows = [["portal", "year", *_MONTHS, "total"]]
    for (portal_id, year), counts in sorted(grid.items()):
        cells = [str(n) if n else "." for n in counts]
        rows.append([portal_id, year, *cells, str(sum(counts))])
    rows += [[portal_id, "no date", *[""] * 12, str(n)] for portal_id, n in undated.items()]
    lines += _table(rows, set(range(2, 15))) if len(rows) > 1 else ["(no articles)"]

    failing = [p for p in stats["portals"] if p["failures"]]
    lines += ["", "Failures" if failing else "Failures: none"]
    if failing:
        rows = [["portal", "total", "last run", "most common reasons"]]
        for p in failing:
            reasons = ", ".join(f"{r['reason']} ({r['count']})" for r in p["top_failure_reasons"])
            rows.append([p["portal"], str(p["failures"]), str(p["failures_in_last_run"]), reasons])
        lines += _table(rows, {1, 2})
    return "\n".join(lines)
