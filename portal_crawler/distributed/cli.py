"""The `enqueue` and `worker` subcommands of `portal-archive` (crawling at scale)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from portal_crawler.cli_common import DB_HELP, die
from portal_crawler.distributed.keys import DEFAULT_NAMESPACE

REDIS_ENV = "PORTAL_ARCHIVE_REDIS"
REDIS_HELP = f"Redis URL, e.g. redis://queue.example:6379/0 (default: ${REDIS_ENV})"
NAMESPACE_HELP = f"prefix of every Redis key (default {DEFAULT_NAMESPACE}); one per deployment"


def _setting(text: str) -> tuple[str, str]:
    from portal_crawler.cli import _parse_setting

    return _parse_setting(text)


def add_commands(commands: Any) -> None:
    """Add the subcommands to `portal-archive`'s subparsers."""
    enqueue = commands.add_parser(
        "enqueue",
        help="queue portals' crawls in Redis for `portal-archive worker` processes",
        description="Plan each portal's crawl as `crawl` would start it (the frontier of "
        "killed runs, listing page 1 of its sections, the re-check window; incremental "
        "unless --full) and queue it in Redis as a job that any number of workers share. "
        "A portal whose previous job is not finished, or that a `crawl` is crawling, is "
        "refused (exit 75).",
    )
    enqueue.add_argument("portals", nargs="*", metavar="PORTAL_ID")
    enqueue.add_argument("--all", action="store_true", help="every registered portal")
    enqueue.add_argument("--redis", default=os.environ.get(REDIS_ENV), help=REDIS_HELP)
    enqueue.add_argument("--namespace", default=DEFAULT_NAMESPACE, help=NAMESPACE_HELP)
    enqueue.add_argument("--db", help=DB_HELP)
    which = enqueue.add_mutually_exclusive_group()
    which.add_argument("--section", help="crawl this section (by name) instead of the defaults")
    which.add_argument("--all-sections", action="store_true", help="crawl every section")
    enqueue.add_argument(
        "--mirror",
        metavar="ORIGIN",
        help="workers fetch from this origin while recording the portal's canonical URLs",
    )
    enqueue.add_argument(
        "--full", action="store_true", help="walk every listing page, re-fetch every article"
    )
    enqueue.add_argument("--recheck-last", type=int, metavar="N", help="default 20")
    enqueue.add_argument("--recheck-days", type=int, metavar="D", help="default 7")
    enqueue.add_argument("--json", action="store_true", help="print the jobs as JSON")

    worker = commands.add_parser(
        "worker",
        help="crawl the jobs queued in Redis, alongside any other workers",
        description="Take requests from the jobs in Redis (scrapy-redis scheduler and "
        "duplicate filter), crawl them into the archive, push back what is found. Run as "
        "many as needed, on as many machines: politeness (each portal's delay and "
        "concurrency) holds across all of them. A worker stops when the jobs it found are "
        "done, or keeps waiting for new ones with --forever. One summary line per job.",
    )
    worker.add_argument("--redis", default=os.environ.get(REDIS_ENV), help=REDIS_HELP)
    worker.add_argument("--namespace", default=DEFAULT_NAMESPACE, help=NAMESPACE_HELP)
    worker.add_argument("--db", help=DB_HELP)
    worker.add_argument("--forever", action="store_true", help="keep waiting for new jobs")
    worker.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        type=_setting,
        metavar="NAME=VALUE",
        help="override a Scrapy setting (repeatable); DOWNLOAD_DELAY and "
        "CONCURRENT_REQUESTS_PER_DOMAIN set the per-host limits shared by all workers",
    )
    worker.add_argument("--log-level", default="WARNING", help="Scrapy log level")
    worker.add_argument("--json", action="store_true", help="one JSON summary line per job")


def _db(given: str | None) -> str:
    """--db, else $PORTAL_ARCHIVE_DB as given (a URL must keep its "//"), else the default."""
    from archive import default_db_path
    from archive.paths import ENV_DB

    return given or os.environ.get(ENV_DB) or str(default_db_path())


def _connect(url: str | None) -> Any:
    from portal_crawler.distributed.connection import connect

    if not url:
        raise ValueError(f"give --redis URL (or set ${REDIS_ENV})")
    client = connect(url)
    client.ping()
    return client


def cmd_enqueue(args: argparse.Namespace) -> int:
    from archive import Archive
    from portal_crawler import cli
    from portal_crawler.distributed.enqueue import enqueue_portal
    from portal_crawler.distributed.job import JobStore
    from portal_crawler.distributed.worker import base_settings
    from portal_crawler.profiles import get_profile, load_profiles

    portal_ids = list(load_profiles()) if args.all else args.portals
    if not portal_ids or (args.all and args.portals):
        return die("give portal ids or --all")
    if args.mirror and not cli._valid_http_url(args.mirror):
        return die("--mirror must be an http(s) origin such as http://127.0.0.1:8080")
    for portal_id in portal_ids:
        profile = get_profile(portal_id)  # ProfileError: a usage error, reported by main()
        if args.section:
            profile.section(args.section)
    overrides = []
    if args.recheck_last is not None:
        overrides.append(("PORTAL_RECHECK_LAST", str(args.recheck_last)))
    if args.recheck_days is not None:
        overrides.append(("PORTAL_RECHECK_DAYS", str(args.recheck_days)))
    try:
        redis = _connect(args.redis)
    except ValueError as exc:
        return die(str(exc))
    except Exception as exc:  # redis.ConnectionError and the like, or redis missing
        return die(f"cannot reach Redis at {args.redis}: {exc}", cli.EXIT_FATAL)
    settings = base_settings(args.redis, args.namespace, overrides)
    store = JobStore(redis, args.namespace, settings.getfloat("PORTAL_JOB_TTL"))
    options = {
        "mirror": args.mirror.rstrip("/") if args.mirror else None,
        "full": args.full,
        "section": args.section,
        "all_sections": args.all_sections,
    }
    db = _db(args.db)
    with Archive.open(db) as archive:
        jobs = [enqueue_portal(store, archive, settings, p, **options) for p in portal_ids]
    if args.json:
        print(json.dumps(jobs, ensure_ascii=False, indent=2))
    else:
        for job in jobs:
            print(_job_line(job))
    return cli.EXIT_LOCKED if any(j["status"] == "refused" for j in jobs) else cli.EXIT_OK


def _job_line(job: dict[str, Any]) -> str:
    if job["status"] != "queued":
        return f"{job['portal']}: refused — {job['message']}"
    return (
        f"{job['portal']}: queued job {job['job']} — {job['requests']} requests "
        f"({job['listing_pages']} listing pages, {job['resumed']} resumed, "
        f"{job['rechecked']} re-checks)"
    )


def cmd_worker(args: argparse.Namespace) -> int:
    from archive import ArchiveError
    from portal_crawler import cli
    from portal_crawler.distributed.worker import (
        Worker,
        base_settings,
        new_worker_id,
        worker_settings,
    )

    try:
        _connect(args.redis)
    except ValueError as exc:
        return die(str(exc))
    except Exception as exc:
        return die(f"cannot reach Redis at {args.redis}: {exc}", cli.EXIT_FATAL)
    db = _db(args.db)
    settings = base_settings(args.redis, args.namespace, args.set)
    settings.set("LOG_LEVEL", args.log_level.upper())
    settings = worker_settings(settings, new_worker_id(), db)

    def report(summary: dict[str, Any]) -> None:
        line = json.dumps(summary, ensure_ascii=False) if args.json else cli.summary_line(summary)
        print(line, flush=True)

    worker = Worker(settings, forever=args.forever, report=report)
    try:
        summaries = worker.run()
    except ArchiveError as exc:
        return die(str(exc), cli.EXIT_FATAL)
    if not summaries and not args.json:
        print(f"no crawl jobs in Redis (namespace {args.namespace})", file=sys.stderr)
    return cli.exit_code(summaries)


COMMANDS = {"enqueue": cmd_enqueue, "worker": cmd_worker}
