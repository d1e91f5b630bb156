"""Crawl speed with 1 and 2 `portal-archive worker` processes, and one `crawl` to compare.

    python benchmarks/distributed.py                       # 1,000 articles, NukeViet markup
    python benchmarks/distributed.py --articles 3000 --workers 1 2 4 --redis redis://host/0

A synthetic portal (benchmarks/synthetic_portal.py) is served on 127.0.0.1 and
named by a profile written for it (no mirror, so that requests go out as they
would to a real portal). Each configuration crawls it into a fresh SQLite
archive, politeness off as in benchmarks/run.py (no delay, 16 requests in
flight, robots.txt not read), WARC and media on; with --pg SERVER_URL into a
fresh PostgreSQL database per configuration instead. Without --redis a private
redis-server is started.

Per configuration: HTML pages (listing pages and articles) and responses
(with images) per second over the crawl — from the first crawler's start to the
last one's end, as Scrapy's stats report them, so process start-up is not
counted — and the wall time including start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic_portal import SECTION, Portal  # noqa: E402

POLITENESS_OFF = (
    "DOWNLOAD_DELAY=0",
    "CONCURRENT_REQUESTS_PER_DOMAIN=16",
    "ROBOTSTXT_OBEY=False",
    "AUTOTHROTTLE_ENABLED=False",
    "PORTAL_RETRY_BACKOFF_BASE=0",
)
TIME_RE = re.compile(r"'(start|finish)_time': datetime\.datetime\(([\d, ]+)")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "portal_crawler.cli", *args]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(articles: int, family: str) -> tuple[subprocess.Popen, str]:
    script = ROOT / "benchmarks" / "synthetic_portal.py"
    args = [sys.executable, str(script), "serve", "--articles", str(articles), "--family", family]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    listing = server.stdout.readline().strip()
    if not listing:
        raise SystemExit("the synthetic portal did not start")
    origin = re.match(r"https?://[^/]+", listing)
    assert origin is not None
    return server, origin.group(0)


def _redis(work: Path) -> tuple[subprocess.Popen | None, str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed; give --redis URL")
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(work)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def _profile(folder: Path, origin: str, family: str, articles: int) -> None:
    (folder / "synthetic.toml").write_text(
        f'id = "synthetic"\nname = "Synthetic portal"\nbase_url = "{origin}"\n'
        f'family = "{family}"\n\n[[sections]]\nname = "{SECTION}"\n'
        f'url = "{Portal(articles, family).listing_path()}"\n',
        encoding="utf-8",
    )


def _database(work: Path, name: str, pg: str | None) -> str:
    """A fresh archive for one configuration: a SQLite file, or a new PostgreSQL database."""
    if pg is None:
        return str(work / f"{name}.sqlite")
    from sqlalchemy import create_engine, make_url, text

    url = make_url(pg)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _span(logs: list[str]) -> float:
    """Seconds from the first crawler's start to the last one's end, from Scrapy's stats."""
    times: dict[str, list[datetime]] = {"start": [], "finish": []}
    for log in logs:
        for kind, fields in TIME_RE.findall(log):
            times[kind].append(datetime(*(int(f) for f in fields.split(",") if f.strip())))
    return (max(times["finish"]) - min(times["start"])).total_seconds()


def _cpu_seconds() -> float:
    """CPU time of the child processes waited for so far (the crawlers, not the servers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _figures(
    runs: list[dict[str, Any]], logs: list[str], wall: float, cpu: float
) -> dict[str, Any]:
    span = _span(logs)
    html = sum(r["pages"] + r["new"] + r["changed"] + r["unchanged"] for r in runs)
    responses = sum(r["requests"] for r in runs)
    return {
        "articles": sum(r["new"] for r in runs),
        "html_pages": html,
        "responses": responses,
        "crawl_s": round(span, 2),
        "wall_s": round(wall, 2),
        "html_per_s": round(html / span, 1),
        "responses_per_s": round(responses / span, 1),
        # CPU the crawling processes used: on a machine with cores to spare,
        # html_pages / cpu_s is what each added worker could add.
        "cpu_s": round(cpu, 1),
    }


def run_workers(count: int, redis: str, profiles: Path, db: str, articles: int) -> dict:
    namespace = f"bench-{count}-{int(time.time())}"
    common = ["--profiles", str(profiles)]
    subprocess.run(
        _cli(*common, "enqueue", "synthetic", "--redis", redis, "--namespace", namespace,
             "--db", str(db)),
        check=True,
        capture_output=True,
    )  # fmt: skip
    settings = [item for pair in POLITENESS_OFF for item in ("-s", pair)]
    settings += ["-s", f"PORTAL_MAX_LISTING_PAGES={max(1000, articles // 10)}"]
    started, cpu = time.perf_counter(), _cpu_seconds()
    workers = [
        subprocess.Popen(
            _cli(
                *common,
                "worker",
                "--redis",
                redis,
                "--namespace",
                namespace,
                "--db",
                str(db),
                "--json",
                "--log-level",
                "INFO",
                *settings,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(count)
    ]
    outputs = [worker.communicate() for worker in workers]
    wall = time.perf_counter() - started
    for worker, (_, err) in zip(workers, outputs, strict=True):
        if worker.returncode != 0:
            raise SystemExit(f"a worker exited {worker.returncode}:\n{err[-3000:]}")
    runs = [json.loads(line) for out, _ in outputs for line in out.splitlines() if line.strip()]
    return _figures(runs, [err for _, err in outputs], wall, _cpu_seconds() - cpu)


def run_single(profiles: Path, db: str, articles: int) -> dict:
    settings = [item for pair in POLITENESS_OFF for item in ("-s", pair)]
    settings += ["-s", f"PORTAL_MAX_LISTING_PAGES={max(1000, articles // 10)}"]
    started, cpu = time.perf_counter(), _cpu_seconds()
    result = subprocess.run(
        _cli("--profiles", str(profiles), "crawl", "synthetic", "--db", str(db), "--json",
             "--log-level", "INFO", *settings),
        capture_output=True,
        text=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"crawl exited {result.returncode}:\n{result.stderr[-3000:]}")
    return _figures(json.loads(result.stdout), [result.stderr], wall, _cpu_seconds() - cpu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--family", default="nukeviet", help="synthetic portal's CMS family")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--redis", help="a Redis to use (default: a private redis-server)")
    parser.add_argument("--pg", metavar="SERVER_URL", help="archive into PostgreSQL databases")
    parser.add_argument("--no-single", action="store_true", help="skip the `crawl` baseline")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        work = Path(tmp)
        server, origin = _serve(args.articles, args.family)
        redis_process, redis = (None, args.redis) if args.redis else _redis(work)
        try:
            profiles = work / "profiles"
            profiles.mkdir()
            _profile(profiles, origin, args.family, args.articles)
            if not args.no_single:
                db = _database(work, "bench_single", args.pg)
                results["crawl (1 process)"] = run_single(profiles, db, args.articles)
            for count in args.workers:
                db = _database(work, f"bench_workers_{count}", args.pg)
                results[f"{count} worker(s)"] = run_workers(
                    count, redis, profiles, db, args.articles
                )
        finally:
            server.terminate()
            server.wait(timeout=10)
            if redis_process is not None:
                redis_process.terminate()
                redis_process.wait(timeout=10)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    archive = "PostgreSQL" if args.pg else "SQLite"
    print(f"{args.articles} articles, {args.family} markup, politeness off, {archive} archive")
    print(f"on {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end")
    header = f"{'':<20}{'HTML pages/s':>14}{'responses/s':>13}{'crawl s':>9}{'wall s':>8}"
    print(header + f"{'CPU s':>8}{'pages/CPU s':>13}")
    for name, r in results.items():
        print(
            f"{name:<20}{r['html_per_s']:>14}{r['responses_per_s']:>13}"
            f"{r['crawl_s']:>9}{r['wall_s']:>8}{r['cpu_s']:>8}"
            f"{round(r['html_pages'] / r['cpu_s'], 1):>13}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
