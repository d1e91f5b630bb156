"""Running real crawls from tests: the `portal-archive` CLI in a subprocess.

A subprocess per crawl gives each its own Twisted reactor (a reactor cannot
be restarted in one process) and exercises the real console entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Politeness off for loopback replays; everything else as users run it.
FAST_SETTINGS = (
    "DOWNLOAD_DELAY=0",
    "AUTOTHROTTLE_ENABLED=False",
    "PORTAL_OBEY_CRAWL_DELAY=False",
    "PORTAL_RETRY_BACKOFF_BASE=0",
)


def portal_archive(
    *args: str, check: bool = True, timeout: float = 180
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUTF8": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "portal_crawler.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"portal-archive {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
        )
    return result


def crawl(db: Path, *args: str, mirror: str) -> subprocess.CompletedProcess:
    settings = [item for pair in FAST_SETTINGS for item in ("-s", pair)]
    return portal_archive("crawl", *args, "--db", str(db), "--mirror", mirror, "--json", *settings)
