"""`portal-archive search`, `stats` and `datasette-metadata`: the analysts' commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from archive import ArchiveError, default_db_path, format_stats
from archive.search import RANK_WINDOW
from portal_crawler.cli_common import DB_HELP
from portal_crawler.cli_common import die as _die
from portal_crawler.cli_common import open_existing as _open

QUERY_HELP = (
    "words to find, with or without diacritics (all must match); "
    '"a phrase", prefix*, a OR b, -excluded, title:/lead:/body:/captions: word'
)
BOLD, PLAIN = "\x1b[1m", "\x1b[0m"


def add_commands(commands: Any) -> None:
    """Add search, stats and datasette-metadata to the CLI's subparsers."""
    search = commands.add_parser(
        "search",
        help="full-text search of the archived articles",
        description="Search the current versions of the archived articles (title, lead, body, "
        "captions), best match first. Diacritics are optional: 'nguyen duc' finds 'Nguyễn "
        "Đức'. Each hit shows the passage that matched, matches highlighted.",
    )
    search.add_argument("query", metavar="QUERY", help=QUERY_HELP)
    search.add_argument("--db", help=DB_HELP)
    search.add_argument("--portal", help="only this portal")
    search.add_argument("--section", help="only articles of this section (by name)")
    search.add_argument("--since", metavar="DATE", help="published on/after YYYY-MM-DD")
    search.add_argument("--until", metavar="DATE", help="published on/before YYYY-MM-DD")
    search.add_argument("--limit", type=int, default=20, help="at most N hits (default 20)")
    search.add_argument("--json", action="store_true", help="print the hits as JSON")
    search.add_argument(
        "--rank-window",
        type=int,
        default=RANK_WINDOW,
        metavar="N",
        help=f"when more than N articles match, rank only the N most recently archived of "
        f"them, which keeps a common word fast in a large archive (default {RANK_WINDOW:,}; "
        "0: rank every match)",
    )

    stats = commands.add_parser(
        "stats",
        help="what the archive holds: articles per portal and month, last runs, failures",
        description="Per portal: articles (removed, edited), publication span, the last crawl "
        "run's status and time; articles per month of publication; failures and their "
        "most common reasons.",
    )
    stats.add_argument("--db", help=DB_HELP)
    stats.add_argument("--json", action="store_true", help="print as JSON")

    meta = commands.add_parser(
        "datasette-metadata",
        help="write Datasette metadata for the archive (titles, descriptions, search)",
        description="Datasette metadata for the archive file: table and column descriptions, "
        "facets, full-text search on articles and a 'search' query that ignores diacritics. "
        "Then: datasette ARCHIVE.sqlite -m metadata.json",
    )
    meta.add_argument("--db", help=DB_HELP)
    meta.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")


def cmd_search(args: argparse.Namespace) -> int:
    archive = _open(args.db)
    if archive is None:
        return 1
    pretty = not args.json and sys.stdout.isatty()
    marks = (BOLD, PLAIN) if pretty else ("[", "]")
    with archive:
        try:
            hits = archive.search(
                args.query,
                portal_id=args.portal,
                section=args.section,
                since=args.since,
                until=args.until,
                limit=args.limit,
                highlight=marks,
                rank_window=args.rank_window or None,
            )
        except ArchiveError as exc:
            return _die(str(exc))
    if hits.windowed:
        print(
            f"note: more than {hits.window:,} articles match; these are the best of the "
            f"{hits.window:,} most recently archived. Narrow the search (--portal, --since, "
            "--until, more words) or rank every match with --rank-window 0.",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(hits, ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("No articles match.", file=sys.stderr)
        return 0
    for number, hit in enumerate(hits, 1):
        gone = "  (removed from the portal)" if hit["removed_at"] else ""
        print(f"{number}. {hit['published'] or 'no date'}  {hit['portal']}  {hit['title']}{gone}")
        print(f"   {hit['url']}")
        if hit["snippet"]:
            print(f"   {hit['snippet']}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    archive = _open(args.db)
    if archive is None:
        return 1
    with archive:
        stats = archive.stats()
    print(json.dumps(stats, ensure_ascii=False, indent=2) if args.json else format_stats(stats))
    return 0


def cmd_datasette_metadata(args: argparse.Namespace) -> int:
    from archive.datasette import metadata, write_metadata

    db = args.db or default_db_path()
    if args.output:
        path = write_metadata(db, args.output)
        print(f"wrote {path}; serve with: datasette {db} -m {path}", file=sys.stderr)
    else:
        print(json.dumps(metadata(db), ensure_ascii=False, indent=2))
    return 0


COMMANDS = {
    "search": cmd_search,
    "stats": cmd_stats,
    "datasette-metadata": cmd_datasette_metadata,
}
