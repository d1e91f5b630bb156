"""Running real crawls from tests: the `portal-archive` CLI in a subprocess.

A subprocess per crawl gives each its own Twisted reactor (a reactor cannot
be restarted in one process) and exercises the real console entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# Politeness off for loopback replays; everything else as users run it.
FAST_SETTINGS = (
    "DOWNLOAD_DELAY=0",
    "AUTOTHROTTLE_ENABLED=False",
    "PORTAL_OBEY_CRAWL_DELAY=False",
    "PORTAL_RETRY_BACKOFF_BASE=0",
)


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "portal_crawler.cli", *args]


def portal_archive(
    *args: str, check: bool = True, timeout: float = 180
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUTF8": "1"}
    result = subprocess.run(
        command(*args), capture_output=True, text=True, timeout=timeout, env=env
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"portal-archive {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
        )
    return result


def crawl_args(db: Path, *args: str, mirror: str, profiles: str | None = None) -> list[str]:
    settings = [item for pair in FAST_SETTINGS for item in ("-s", pair)]
    extra = ["--profiles", profiles] if profiles else []
    return [*extra, "crawl", *args, "--db", str(db), "--mirror", mirror, "--json", *settings]


def crawl(
    db: Path, *args: str, mirror: str, check: bool = True, profiles: str | None = None
) -> subprocess.CompletedProcess:
    return portal_archive(*crawl_args(db, *args, mirror=mirror, profiles=profiles), check=check)


def summaries(result: subprocess.CompletedProcess) -> list[dict[str, Any]]:
    return json.loads(result.stdout)
