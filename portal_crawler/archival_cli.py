"""The `reparse` and `import-warc` subcommands of `portal-archive` (archival fidelity)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from portal_crawler.cli_common import DB_HELP


def add_commands(commands: Any) -> None:
    """Add the subcommands to `portal-archive`'s subparsers."""
    reparse = commands.add_parser(
        "reparse",
        help="extract every stored article again from its raw capture (no network)",
        description="Re-parse stored articles from their raw captures with the current "
        "parser and profiles, offline. Fields that come out differently are recorded as a "
        "new revision with the reason 'reparse' and the parser version, not as an edit.",
    )
    reparse.add_argument("--db", help=DB_HELP)
    reparse.add_argument("--portal", help="only this portal")
    reparse.add_argument(
        "--since", metavar="DATE", help="only articles published on/after YYYY-MM-DD"
    )
    reparse.add_argument(
        "--dry-run", action="store_true", help="report what would change; write nothing"
    )
    reparse.add_argument("--json", action="store_true", help="print the summary as JSON")

    importer = commands.add_parser(
        "import-warc",
        help="build archive rows from WARC files made by any tool",
        description="Read WARC files (wget --warc-file, Browsertrix, Heritrix, ours) of a "
        "known portal: walk its sections' listing pages as recorded, parse the articles they "
        "list and store them with their captures, images and attachments. No network. "
        "Several files are one capture, oldest first (rotated files, or a first crawl and "
        "its re-crawl): the newest capture of a URL wins, and a revisit record takes its "
        "payload from whichever file holds the original. Bodies are read from the files "
        "when needed, so files of any size import in little memory.",
    )
    importer.add_argument("warc", type=Path, nargs="+", metavar="FILE.warc.gz")
    importer.add_argument("--portal", required=True, help="the portal the WARC captured")
    importer.add_argument("--db", help=DB_HELP)
    importer.add_argument(
        "--section", action="append", metavar="NAME", help="only this section (repeatable)"
    )
    importer.add_argument(
        "--media",
        choices=["all", "images", "off"],
        default="all",
        help="store the articles' files found in the WARC (default: all)",
    )
    importer.add_argument("--json", action="store_true", help="print the summary as JSON")


def cmd_reparse(args: argparse.Namespace) -> int:
    from portal_crawler import cli
    from portal_crawler.reparse import reparse_archive

    archive = cli._open_existing(args.db)
    if archive is None:
        return 1
    with archive:
        summary = reparse_archive(archive, args.portal, args.since, dry_run=args.dry_run)
    result = summary.as_dict()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    verb = "would change" if args.dry_run else "changed (new revisions, reason 'reparse')"
    print(
        f"re-parsed {result['checked']} articles with parser {result['parser_version']}: "
        f"{result['changed']} {verb}, {result['unchanged']} unchanged, "
        f"{result['failed']} could not be extracted (kept as stored)"
    )
    for url in summary.changed:
        print(f"  changed: {url}")
    for url, why in summary.failed:
        print(f"  failed: {url} — {why}")
    return 0


def cmd_import_warc(args: argparse.Namespace) -> int:
    from warcio.exceptions import ArchiveLoadFailed

    from archive import Archive, LockHeld, default_db_path
    from archive.paths import data_dir_for
    from portal_crawler import cli
    from portal_crawler.importwarc import import_warc
    from portal_crawler.profiles import get_profile

    for path in args.warc:
        if not path.is_file():
            return cli._die(f"no WARC file at {path}", 1)
    profile = get_profile(args.portal)
    sections = [profile.section(name) for name in args.section] if args.section else None
    db = args.db or str(default_db_path())
    try:
        with Archive.open(db) as archive:
            summary = import_warc(
                archive,
                args.warc,
                profile,
                data_dir=data_dir_for(db),
                sections=sections,
                media=args.media,
            )
    except LockHeld as exc:
        return cli._die(f"refused: {exc}", cli.EXIT_LOCKED)
    except (ArchiveLoadFailed, AttributeError, ValueError, EOFError) as exc:
        # warcio raises plain errors on records it cannot read (no target URI, a
        # status line that is not a number, a truncated gzip member).
        names = ", ".join(str(path) for path in args.warc)
        return cli._die(f"not a readable WARC file ({names}): {exc!r}", 1)
    result = summary.as_dict()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(f"archive: {db}")
        print(
            f"{profile.id}: imported from {', '.join(map(str, args.warc))} — "
            f"{result['new']} new, "
            f"{result['changed']} changed, {result['unchanged']} unchanged, "
            f"{result['failed']} failed; {result['listing_pages']} listing pages, "
            f"{result['responses']} responses read, {result['media_stored']} files stored"
        )
        for failure in result["failures"]:
            print(f"  failure: {failure['url']} — {failure['reason']}", file=sys.stderr)
        if not result["listing_pages"]:
            print(
                "  the WARC holds no listing page of the portal's sections "
                f"({', '.join(s.url for s in sections or profile.sections)})",
                file=sys.stderr,
            )
    stored = result["new"] + result["changed"] + result["unchanged"] + result.get("duplicates", 0)
    return 0 if stored else 1


COMMANDS = {"reparse": cmd_reparse, "import-warc": cmd_import_warc}
