"""`portal-archive`: one command line for crawling, parsing, exporting, evaluating."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive import Archive, ArchiveError, default_db_path
from archive.export import ExportFilter, export_jsonl, iter_records, write_export
from portal_crawler import analysis_cli, archival_cli
from portal_crawler.cli_common import DB_HELP
from portal_crawler.cli_common import die as _die
from portal_crawler.cli_common import open_existing as _open_existing
from portal_crawler.distributed import cli as distributed_cli
from portal_crawler.profiles import (
    PROFILE_DIRS_ENV,
    ProfileError,
    get_profile,
    load_profiles,
    profile_for_url,
    reload_profiles,
)

# Exit codes, for cron and systemd (documented in the README).
EXIT_OK = 0
EXIT_PARTIAL = 1  # some pages failed for reasons a later run may not meet again
EXIT_USAGE = 2
EXIT_DEGRADED = 3  # an alarm: the portal's layout or publishing changed
EXIT_FATAL = 4  # the crawl could not run or crashed
EXIT_LOCKED = 75  # another crawl of the portal holds its lock (EX_TEMPFAIL: try later)


def _valid_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # "http://[bad", a port that is not a number
        return False


def _parse_setting(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    return name.strip(), value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portal-archive",
        description=(
            "Crawl the news sections of Vietnamese government portals into a SQLite "
            "archive, and export, inspect or evaluate what was captured."
        ),
    )
    parser.add_argument(
        "--profiles",
        metavar="DIR",
        action="append",
        help="also read portal profiles (*.toml) from this folder (repeatable; "
        "also $PORTAL_ARCHIVE_PROFILES); a profile there overrides a shipped one of the same id",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    crawl = commands.add_parser(
        "crawl",
        help="crawl portals' news sections into the archive",
        description=(
            "Crawl the default sections of the given portals (see `portal-archive portals`), "
            "or one listing URL of a portal with no profile (--url). Politeness is on: "
            "robots.txt and its Crawl-delay, AutoThrottle, the profile's delay."
        ),
    )
    crawl.add_argument("portals", nargs="*", metavar="PORTAL_ID", help="portal ids to crawl")
    crawl.add_argument("--all", action="store_true", help="crawl every registered portal")
    crawl.add_argument("--url", help="crawl this listing URL generically (no profile needed)")
    crawl.add_argument(
        "--full",
        action="store_true",
        help="walk every listing page and re-fetch every article (a periodic deep pass); "
        "by default a crawl is incremental: it stops at listing pages already archived "
        "and re-checks only recent articles",
    )
    crawl.add_argument(
        "--recheck-last",
        type=int,
        metavar="N",
        help="re-check the N most recent archived articles for edits (default 20)",
    )
    crawl.add_argument(
        "--recheck-days",
        type=int,
        metavar="D",
        help="also re-check every article published in the last D days (default 7)",
    )
    crawl.add_argument("--db", help=DB_HELP)
    which = crawl.add_mutually_exclusive_group()
    which.add_argument("--section", help="crawl this section (by name) instead of the defaults")
    which.add_argument("--all-sections", action="store_true", help="crawl every section")
    crawl.add_argument(
        "--mirror",
        metavar="ORIGIN",
        help="fetch from this origin (a local replay, a proxy) while recording the "
        "portal's canonical URLs, e.g. http://127.0.0.1:8080",
    )
    crawl.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        type=_parse_setting,
        metavar="NAME=VALUE",
        help="override a Scrapy setting (repeatable), e.g. -s DOWNLOAD_DELAY=2",
    )
    crawl.add_argument("--log-level", default="WARNING", help="Scrapy log level (default WARNING)")
    crawl.add_argument("--json", action="store_true", help="print the run summaries as JSON")

    parse = commands.add_parser(
        "parse",
        help="parse one article page and print it as JSON",
        description="Parse a saved page (or fetch a URL) and print the Article as one JSON object.",
    )
    parse.add_argument("source", metavar="FILE_OR_URL", nargs="?")
    parse.add_argument(
        "--batch",
        metavar="LIST.tsv",
        help="parse every page listed (FILE<TAB>URL[<TAB>CONTENT-TYPE] a line; - for stdin) "
        "and print one JSON line per page",
    )
    parse.add_argument("--url", help="the page's URL on the portal (required for a file)")
    parse.add_argument("--content-type", help="the HTTP Content-Type the page was served with")
    parse.add_argument("--portal", help="use this portal's profile (default: chosen by host)")
    parse.add_argument("--section", help="section name to record")

    export = commands.add_parser(
        "export",
        help="export archived articles as JSON lines or CSV",
        description="One record per article (its current version): the gold keys plus "
        "portal, content_hash, first_seen_at, last_seen_at, revision, removed_at, observed_at, "
        "current (docs/export.md). Streams: any archive size in constant memory.",
    )
    export.add_argument("--db", help=DB_HELP)
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("--portal", help="only this portal")
    export.add_argument("--section", help="only articles of this section (by name)")
    export.add_argument(
        "--since", metavar="DATE", help="only articles published on/after YYYY-MM-DD"
    )
    export.add_argument(
        "--until", metavar="DATE", help="only articles published on/before YYYY-MM-DD"
    )
    export.add_argument("--query", help="only articles matching this search (see `search`)")
    export.add_argument(
        "--include-revisions",
        action="store_true",
        help="one record per archived revision (oldest first), not only the current version",
    )
    export.add_argument(
        "--include-removed",
        action="store_true",
        help="also articles their portal no longer serves (removed_at set)",
    )
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")

    runs = commands.add_parser(
        "runs",
        help="show the crawl run log",
        description="One row per crawl run: times, status, listing pages, requests, bytes, "
        "new/changed/unchanged/removed/failed articles and any alarm.",
    )
    runs.add_argument("--db", help=DB_HELP)
    runs.add_argument("--portal", help="only this portal")
    runs.add_argument("--limit", type=int, default=50, help="newest N runs (default 50)")
    runs.add_argument("--json", action="store_true", help="print as JSON")

    history = commands.add_parser(
        "history",
        help="show an article's revisions and what changed",
        description="Every archived version of the article at URL (any URL it was reached "
        "by), with a readable diff between consecutive versions.",
    )
    history.add_argument("url", metavar="URL")
    history.add_argument("--db", help=DB_HELP)
    history.add_argument("--json", action="store_true", help="print the revisions as JSON")

    portals = commands.add_parser("portals", help="list the portal profiles")
    portals.add_argument("--json", action="store_true", help="print as JSON")

    evaluate = commands.add_parser(
        "eval",
        help="score the parser against a snapshot's gold annotations",
        description="Per-field exact-match rates, body token F1 and caption F1 on gold pages.",
    )
    evaluate.add_argument("snapshots", nargs="+", type=Path, metavar="SNAPSHOT_DIR")
    evaluate.add_argument("--generic", action="store_true", help="ignore profiles")
    evaluate.add_argument("--details", action="store_true", help="list every mismatch")
    evaluate.add_argument("--json", action="store_true", help="print as JSON")

    demo = commands.add_parser(
        "demo",
        help="offline demo: replay a bundled portal snapshot through the whole pipeline",
        description="Serves the bundled An Biên snapshot on 127.0.0.1, crawls it into the "
        "archive, exports JSONL and prints a summary. Needs no network.",
    )
    demo.add_argument("--db", help=DB_HELP)
    demo.add_argument(
        "-o", "--output", metavar="FILE", help="JSONL export (default: beside the db)"
    )
    archival_cli.add_commands(commands)  # reparse, import-warc
    analysis_cli.add_commands(commands)  # search, stats, datasette-metadata
    distributed_cli.add_commands(commands)  # enqueue, worker
    return parser


# -- crawl ------------------------------------------------------------------------------
def run_crawl(
    portal_ids: Sequence[str],
    *,
    url: str | None = None,
    db: str | None = None,
    section: str | None = None,
    all_sections: bool = False,
    mirror: str | None = None,
    full: bool = False,
    settings_overrides: Sequence[tuple[str, str]] = (),
    log_level: str = "WARNING",
) -> list[dict[str, Any]]:
    """Run the crawls concurrently in this process; one summary per portal."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "portal_crawler.settings")
    settings = get_project_settings()
    settings.set("LOG_LEVEL", log_level.upper())
    settings.set("PORTAL_ARCHIVE_DB", str(db or default_db_path()))
    if not any(name == "DOWNLOAD_DELAY" for name, _ in settings_overrides):
        # Each portal's own politeness: its delay and concurrency, per host.
        slots: dict[str, dict[str, Any]] = {}
        for portal_id in portal_ids:
            profile = get_profile(portal_id)
            host = urlsplit(mirror or profile.base_url).hostname or ""
            slots[host] = {"delay": profile.download_delay, "concurrency": profile.concurrency}
        settings.set("DOWNLOAD_SLOTS", slots)
    for name, value in settings_overrides:
        settings.set(name, value)

    process = CrawlerProcess(settings)
    jobs: list[dict[str, Any]] = (
        [{"url": url, "section": section}]
        if url
        else [{"portal": p, "section": section, "all_sections": all_sections} for p in portal_ids]
    )
    crawlers = []
    for job in jobs:
        crawler = process.create_crawler("portal")
        crawlers.append((job, crawler))
        process.crawl(crawler, mirror=mirror, full=full, **job)
    process.start()
    summaries = []
    for job, crawler in crawlers:
        summary = getattr(crawler, "portal_run_summary", None) or {
            "status": "failed",
            "message": "the crawl did not start; see the log above",
        }
        summaries.append({"portal": job.get("portal") or job.get("url"), **summary})
    return summaries


def exit_code(summaries: Sequence[dict[str, Any]]) -> int:
    """The most severe outcome over all portals."""
    codes = set()
    for s in summaries:
        status = s.get("status")
        if status in ("failed", "interrupted"):
            codes.add(EXIT_FATAL)
        elif status == "degraded":
            codes.add(EXIT_DEGRADED)
        elif status == "refused":
            codes.add(EXIT_LOCKED)
        elif s.get("failed_transient"):
            codes.add(EXIT_PARTIAL)
    for code in (EXIT_FATAL, EXIT_DEGRADED, EXIT_LOCKED, EXIT_PARTIAL):
        if code in codes:
            return code
    return EXIT_OK


def summary_line(s: dict[str, Any]) -> str:
    line = (
        f"{s['portal']}: {s.get('status')} — {s.get('new', 0)} new, "
        f"{s.get('changed', 0)} changed, {s.get('unchanged', 0)} unchanged, "
        f"{s.get('removed', 0)} removed, {s.get('failed', 0)} failed; "
        f"{s.get('pages', 0)} listing pages, {s.get('requests', 0)} requests"
    )
    return line + (f" — {s['message']}" if s.get("message") else "")


def cmd_crawl(args: argparse.Namespace) -> int:
    portal_ids = list(load_profiles()) if args.all else args.portals
    if sum(map(bool, (portal_ids, args.url))) != 1 or (args.all and args.portals):
        return _die("give portal ids, --all or --url LISTING_URL (one of them)")
    for option, value in (("--url", args.url), ("--mirror", args.mirror)):
        if value and not _valid_http_url(value):
            return _die(
                f"{option} must be an http(s) URL such as https://xa.gov.vn/tin-tuc, not {value!r}"
            )
    try:
        for portal_id in portal_ids:
            profile = get_profile(portal_id)
            if args.section:
                profile.section(args.section)
    except ProfileError as exc:
        return _die(str(exc))
    db = str(args.db or default_db_path())
    overrides = list(args.set)
    if args.recheck_last is not None:
        overrides.append(("PORTAL_RECHECK_LAST", str(args.recheck_last)))
    if args.recheck_days is not None:
        overrides.append(("PORTAL_RECHECK_DAYS", str(args.recheck_days)))
    try:
        summaries = run_crawl(
            portal_ids,
            url=args.url,
            db=db,
            section=args.section,
            all_sections=args.all_sections,
            mirror=args.mirror,
            full=args.full,
            settings_overrides=overrides,
            log_level=args.log_level,
        )
    except ArchiveError as exc:
        return _die(str(exc), EXIT_FATAL)
    if args.json:
        print(json.dumps(summaries, ensure_ascii=False, indent=2))
    else:
        print(f"archive: {db}")
        for summary in summaries:
            print(summary_line(summary))
    return exit_code(summaries)


# -- parse ------------------------------------------------------------------------------
def cmd_parse(args: argparse.Namespace) -> int:
    from portal_crawler.batch import not_an_article, run_batch
    from portal_crawler.parsing import parse_article

    if args.batch:
        return run_batch(args.batch, portal=args.portal, section=args.section)
    if not args.source:
        return _die("give a FILE_OR_URL, or --batch LIST.tsv")
    source = args.source
    headers: dict[str, str] = {}
    if source.startswith(("http://", "https://")) and not Path(source).exists():
        if not _valid_http_url(source):
            return _die(f"{source!r} is not a valid URL")
        request = urllib.request.Request(source, headers={"User-Agent": "portal-archive"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                body = response.read()
                headers = {k.lower(): v for k, v in response.headers.items()}
        except OSError as exc:
            return _die(f"cannot fetch {source}: {exc}", 1)
        url = args.url or source
    else:
        try:
            body = Path(source).read_bytes()
        except OSError as exc:
            return _die(f"cannot read {source}: {exc.strerror or exc}", 1)
        if not args.url:
            return _die("--url is required when parsing a file")
        url = args.url
    try:
        urlsplit(url).hostname  # noqa: B018 - raises on "http://[bad"
    except ValueError:
        return _die(f"--url {url!r} is not a valid URL")
    if args.content_type:
        headers["content-type"] = args.content_type
    try:
        profile = get_profile(args.portal) if args.portal else profile_for_url(url)
    except ProfileError as exc:
        return _die(str(exc))
    article = parse_article(url, body, headers, profile=profile, section=args.section)
    print(json.dumps(article.to_dict(), ensure_ascii=False, indent=2))
    problem = not_an_article(article)
    return _die(f"{url}: {problem}", 1) if problem else 0


# -- export, portals, eval ----------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    archive = _open_existing(args.db)
    if archive is None:
        return 1
    selection = ExportFilter(
        portal_id=args.portal,
        section=args.section,
        since=args.since,
        until=args.until,
        query=args.query,
        include_revisions=args.include_revisions,
        include_removed=args.include_removed,
    )
    with archive:
        try:
            next(iter_records(archive, selection), None)  # a bad filter fails before writing
        except ArchiveError as exc:
            return _die(str(exc))
        if not args.output:
            write_export(archive, sys.stdout, args.format, selection)
            return 0
        partial = Path(f"{args.output}.part")
        with open(partial, "w", encoding="utf-8", newline="") as out:
            count = write_export(archive, out, args.format, selection)
        partial.replace(args.output)
    what = "records" if args.include_revisions else "articles"
    print(f"exported {count} {what} to {args.output}", file=sys.stderr)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from archive import format_runs

    archive = _open_existing(args.db)
    if archive is None:
        return 1
    with archive:
        runs = archive.runs(args.portal, limit=args.limit)
    if args.json:
        print(json.dumps(runs, ensure_ascii=False, indent=2, default=str))
    else:
        print(format_runs(runs) if runs else "no crawl runs yet")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from archive import format_history

    archive = _open_existing(args.db)
    if archive is None:
        return 1
    with archive:
        revisions = archive.history(args.url)
    if not revisions:
        return _die(f"no archived article at {args.url}", 1)
    if args.json:
        print(json.dumps(revisions, ensure_ascii=False, indent=2, default=str))
    else:
        print(format_history(revisions))
    return 0


def cmd_portals(args: argparse.Namespace) -> int:
    profiles = load_profiles()
    if args.json:
        rows = [
            {
                "id": p.id,
                "name": p.name,
                "province": p.province,
                "base_url": p.base_url,
                "cms": p.family,
                "sections": [{"name": s.name, "url": s.url} for s in p.sections],
                "default_sections": list(p.default_sections),
            }
            for p in profiles.values()
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for p in profiles.values():
        print(f"{p.id:<12} {p.family:<11} {p.province or '':<12} {p.base_url}  {p.name}")
        for s in p.sections:
            mark = "*" if s.name in p.default_sections else " "
            print(f"{'':<12} {mark} {s.name}: {s.url}")
    print("(* = crawled by default)")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from portal_crawler.evaluation import run_eval

    # `eval shared/portals/*` also matches FORMAT.md and the like: skip plain files.
    folders = [folder for folder in args.snapshots if not folder.is_file()]
    for folder in folders:
        if not (folder / "site.json").is_file():
            return _die(f"{folder} is not a snapshot (no site.json)")
    if not folders:
        return _die("no snapshot folders given")
    return run_eval(folders, args.generic, args.details, args.json)


# -- demo -------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from importlib import resources

    from portal_crawler.replay import ReplayServer

    db = str(args.db or default_db_path())
    snapshot = Path(str(resources.files("portal_crawler.demo").joinpath("anbien")))
    output = args.output or str(Path(db).with_suffix("")) + "-demo.jsonl"
    with ReplayServer(snapshot) as server:
        print(f"Replaying the bundled An Biên snapshot at {server.origin} (offline)")
        summaries = run_crawl(
            ["anbien"],
            db=db,
            mirror=server.origin,
            # A local replay: no need to be polite to ourselves.
            settings_overrides=[
                ("DOWNLOAD_DELAY", "0"),
                ("AUTOTHROTTLE_ENABLED", "False"),
                ("PORTAL_OBEY_CRAWL_DELAY", "False"),
                ("PORTAL_RETRY_BACKOFF_BASE", "0"),
            ],
        )
    print(f"archive: {db}")
    for summary in summaries:
        print(summary_line(summary))
    with Archive.open(db) as archive, open(output, "w", encoding="utf-8") as out:
        count = export_jsonl(archive, out, portal_id="anbien")
        failures = archive.failures(run_id=summaries[0].get("run_id"))
    print(f"exported {count} articles to {output}")
    for failure in failures:
        print(f"  failure: {failure['url']} — {failure['reason']}")
    return 0 if summaries[0].get("status") == "finished" and count else 1


COMMANDS = {
    "crawl": cmd_crawl,
    "parse": cmd_parse,
    "export": cmd_export,
    "portals": cmd_portals,
    "runs": cmd_runs,
    "history": cmd_history,
    "eval": cmd_eval,
    "demo": cmd_demo,
    **archival_cli.COMMANDS,
    **analysis_cli.COMMANDS,
    **distributed_cli.COMMANDS,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.profiles:
        folders = [*args.profiles, os.environ.get(PROFILE_DIRS_ENV, "")]
        os.environ[PROFILE_DIRS_ENV] = os.pathsep.join(f for f in folders if f)
        reload_profiles()
    try:
        return COMMANDS[args.command](args)
    except ProfileError as exc:
        return _die(str(exc), EXIT_USAGE)
    except ArchiveError as exc:  # a newer, damaged or unwritable archive: say so plainly
        return _die(str(exc), EXIT_FATAL)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
