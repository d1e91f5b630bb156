"""Performance at archive scale, every figure against its baseline, in one run, one table.

    python benchmarks/run.py [--articles 2000] [--family nukeviet] [--rss-sizes 10000 100000]
                             [--search-articles 100000 | --search-db FILE] [--json]

What it measures, on this machine, in this run:
- crawl: `portal-archive crawl --url` of a synthetic portal (benchmarks/synthetic_portal.py,
  served by aiohttp on 127.0.0.1 in its own process) with politeness off and 16 requests
  per host, responses/s over the crawl's own elapsed time (Scrapy's stats, as `scrapy
  bench` reports), against `scrapy bench` (its follow-links spider, nothing parsed or
  stored); HTML pages/s (listing pages and articles, images left out) beside it;
- parse: our generic parser against trafilatura, pages/s on one core, on the gold pages
  of tests/fixtures (as benchmarks/extraction.py) and on synthetic pages;
- peak RSS of the crawl process (wait4's ru_maxrss) at each of --rss-sizes articles;
- SQLite: Archive.store_article rate into a fresh archive, archive bytes per article
  (database, WARC and media of the crawl, and the database alone);
- incremental re-crawl of the unchanged portal: requests and seconds;
- search p50/p95 over 40 queries (Archive.search, 20 hits each; each query's median of
  five passes, after one untimed pass that warms the page cache): with the default
  rank window, ranked with the archive's word counts (bm25_df) and, as the baseline,
  by FTS5's own bm25(); and ranking every match. The three are timed in turn for
  each query.
  JSONL export rows/s. On an archive of --search-articles articles (built in bulk by
  benchmarks/export.py's builder), or on --search-db.

Sizes default small so that one run takes a few minutes; the issue's sizes are
--rss-sizes 10000 100000 --search-articles 1000000.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

FAST = (
    "DOWNLOAD_DELAY=0",
    "AUTOTHROTTLE_ENABLED=False",
    "PORTAL_OBEY_CRAWL_DELAY=False",
    "ROBOTSTXT_OBEY=False",
    "PORTAL_RETRY_BACKOFF_BASE=0",
    "CONCURRENT_REQUESTS=32",
    "CONCURRENT_REQUESTS_PER_DOMAIN=16",
)
STAT_RE = re.compile(r"'([\w/]+)': ([\d.]+)")
SEARCH_QUERIES = (
    "dân vận khéo", "dan van kheo", "nông thôn mới", "nong thon moi", "hội nghị tổng kết",
    '"phong trào thi đua"', "giảm nghèo", "chuyển đổi số", "cải cách hành chính", "thủy sản",
    "lũ lụt", "an ninh trật tự", "y tế", "giáo dục", "Nguyễn", "nguyen duc", "hợp tác xã",
    "thanh niên OR phụ nữ", "quốc phòng -biên", "title:huyện", "đại biểu*", "mặt trận tổ quốc",
    "phong chong dich benh", "kế hoạch", "thiên tai hạn mặn", "du lịch", "văn hóa thể thao",
    "cựu chiến binh", "chương trình mục tiêu quốc gia", "doanh nghiệp", "một cửa liên thông",
    "đảng viên", "an sinh xã hội", "sản xuất nông nghiệp", "mùa khô", "đường giao thông",
    "đại đoàn kết", "Hải Lăng", "An Biên", "Triệu Sơn",
)  # fmt: skip


def _python() -> str:
    return sys.executable


# -- baselines -------------------------------------------------------------------------
def scrapy_bench(seconds: int = 10) -> dict[str, Any]:
    """`scrapy bench` outside any project (Scrapy's defaults): responses per second."""
    with tempfile.TemporaryDirectory() as cwd:
        result = subprocess.run(
            [_python(), "-m", "scrapy", "bench", "-s", f"CLOSESPIDER_TIMEOUT={seconds}"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
    stats = dict(STAT_RE.findall(result.stderr))
    responses = int(float(stats.get("response_received_count", 0)))
    elapsed = float(stats.get("elapsed_time_seconds", 0) or 0)
    rates = [int(r) for r in re.findall(r"at (\d+) pages/min", result.stderr)]
    return {
        "responses": responses,
        "elapsed_s": round(elapsed, 2),
        "pages_per_s": round(responses / elapsed, 1) if elapsed else None,
        "peak_pages_per_min": max(rates, default=None),
    }


# -- the synthetic portal and our crawl ------------------------------------------------
class Server:
    """benchmarks/synthetic_portal.py serving in its own process."""

    def __init__(self, articles: int, family: str, edited: int = 0, images: bool = True):
        args = [
            _python(),
            str(ROOT / "benchmarks" / "synthetic_portal.py"),
            "serve",
            "--articles",
            str(articles),
            "--family",
            family,
            "--edited",
            str(edited),
        ]
        if not images:
            args.append("--no-images")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url:
            raise SystemExit("the synthetic portal did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def crawl(url: str, db: Path, *extra: str) -> dict[str, Any]:
    """One `portal-archive crawl --url` in a child process: summary, stats, peak RSS."""
    settings = [item for pair in FAST for item in ("-s", pair)]
    args = [_python(), "-m", "portal_crawler.cli", "crawl", "--url", url, "--db", str(db)]
    args += ["--json", "--log-level", "INFO", *settings, *extra]
    with tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=err, text=True, env={**os.environ}
        )
        assert child.stdout is not None
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        err.seek(0)
        log = err.read()
    if child.returncode not in (0, 1):
        raise SystemExit(f"crawl exited {child.returncode}:\n{log[-3000:]}")
    summary = json.loads(out)[0]
    stats = dict(STAT_RE.findall(log))
    elapsed = float(stats.get("elapsed_time_seconds", 0) or wall)
    responses = int(float(stats.get("response_received_count", summary["requests"])))
    html = summary["pages"] + summary["new"] + summary["changed"] + summary["unchanged"]
    return {
        "summary": summary,
        "wall_s": round(wall, 2),
        "elapsed_s": round(elapsed, 2),
        "responses": responses,
        "responses_per_s": round(responses / elapsed, 1),
        "html_per_s": round(html / elapsed, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def _listing_cap(articles: int) -> tuple[str, str]:
    # The default cap (1,000 listing pages) is a trap guard sized for real
    # district portals; a synthetic portal of 100,000 articles has 5,000 pages.
    return "-s", f"PORTAL_MAX_LISTING_PAGES={max(1000, articles // 10)}"


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def archive_bytes(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {
        "db": _size(db) + _size(db.with_name(db.name + "-wal")),
        "warc": _size(db.parent / "warc"),
        "media": _size(db.parent / "media"),
    }


# -- parsing ---------------------------------------------------------------------------
def parse_speed(synthetic: int, repeat: int) -> dict[str, Any]:
    """Pages/s of our generic parser and of trafilatura, best of `repeat`, one core.

    Timed in CPU seconds of this process (both run in it, one thread each): on a
    shared virtual machine the wall clock also counts time the CPU was lent away."""
    import extraction
    from synthetic_portal import FAMILIES, Portal

    from portal_crawler.profiles import generic_profile

    gold_pages = extraction.load_pages(extraction.DEFAULT_DIRS)
    fake = []
    for i, family in enumerate(FAMILIES):
        portal = Portal(articles=10_000, family=family, seed=i + 1)
        for path, body in portal.iter_article_pages(synthetic // len(FAMILIES)):
            url = "https://synthetic.gov.vn" + path
            profile = generic_profile(url)
            fake.append(
                extraction.Page(
                    family,
                    {"url": url, "section": None},
                    body,
                    {"content-type": "text/html; charset=utf-8"},
                    profile,
                    profile,
                    body.decode(),
                )
            )
    trafilatura = extraction.make_trafilatura()
    systems = [("ours", extraction.ours_generic)]
    if trafilatura is not None:
        systems.append(("trafilatura", trafilatura))
    result: dict[str, Any] = {}
    for label, pages in (("gold", gold_pages), ("synthetic", fake)):
        best = {name: float("inf") for name, _ in systems}
        for _ in range(repeat):
            for name, run in systems:
                started = time.process_time()
                for page in pages:
                    run(page)
                best[name] = min(best[name], time.process_time() - started)
        result[label] = {
            "pages": len(pages),
            **{name: round(len(pages) / best[name], 1) for name in best},
        }
    return result


# -- storage, search, export -----------------------------------------------------------
def insert_rate(count: int, work: Path) -> dict[str, Any]:
    """Archive.store_article into a fresh archive: articles/s and bytes per article."""
    from synthetic_portal import Portal

    from archive import Archive
    from portal_crawler.parsing import PARSER_VERSION, parse_article
    from portal_crawler.profiles import generic_profile

    portal = Portal(articles=count, family="nukeviet", seed=9)
    prepared = []
    for path, body in portal.iter_article_pages(count):
        url = "https://synthetic.gov.vn" + path
        article = parse_article(url, body, {}, profile=generic_profile(url), section="Tin")
        prepared.append((url, article.to_dict(), body))
    db = work / "insert.sqlite"
    with Archive.open(db) as archive:
        archive.upsert_portal("synthetic", "Synthetic", "https://synthetic.gov.vn")
        started = time.perf_counter()
        for url, article, body in prepared:
            archive.store_article(
                "synthetic",
                article,
                fetched_url=url,
                raw_body=body,
                http_status=200,
                headers={"content-type": "text/html; charset=utf-8"},
                run_id=None,
                parser_version=PARSER_VERSION,
            )
        seconds = time.perf_counter() - started
    size = archive_bytes(db)["db"]
    raw = sum(len(body) for _, _, body in prepared)
    return {
        "articles": count,
        "per_s": round(count / seconds, 1),
        "db_bytes_per_article": round(size / count),
        "raw_html_bytes_per_article": round(raw / count),
    }


def _search_times(
    archive: Any, modes: list[tuple[dict[str, Any], bool]], passes: int = 5
) -> list[list[float]]:
    """For each mode (search options, whether ranked with word counts), each query's
    median time (ms) over `passes` passes, the modes timed in turn for each query."""
    from archive import bm25

    installed = bm25.installed
    times = [[[] for _ in SEARCH_QUERIES] for _ in modes]
    try:
        for _ in range(passes):
            for n, query in enumerate(SEARCH_QUERIES):
                for m, (options, counted) in enumerate(modes):
                    bm25.installed = installed if counted else (lambda session: False)
                    began = time.perf_counter()
                    archive.search(query, limit=20, **options)
                    times[m][n].append((time.perf_counter() - began) * 1000)
    finally:
        bm25.installed = installed
    return [[statistics.median(each) for each in mode] for mode in times]


def _percentiles(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return round(statistics.median(ordered), 1), round(ordered[int(0.95 * (len(ordered) - 1))], 1)


def search_and_export(count: int, work: Path, prebuilt: Path | None = None) -> dict[str, Any]:
    """Search latency (with the default rank window and ranking every match) and JSONL
    export speed on a bulk-built archive of `count` articles, or on `prebuilt`."""
    import export as export_bench
    from sqlalchemy.orm import Session

    from archive import Archive, ExportFilter, bm25, write_export
    from archive.search import RANK_WINDOW

    build_s = None
    db = prebuilt
    if db is None:
        db = work / f"search-{count}.sqlite"
        started = time.perf_counter()
        export_bench.build(db, count)
        with Archive.open(db) as archive:
            archive.rebuild_search_index()
        build_s = round(time.perf_counter() - started, 1)
    with Archive.open(db) as archive:
        count = archive.count_articles()
        with Session(archive.engine) as session:
            word_counts = bm25.installed(session)
        for query in SEARCH_QUERIES:  # warm the page cache, as a server's would be
            archive.search(query, limit=20)
        bounded = sum(archive.search(query, limit=20).windowed for query in SEARCH_QUERIES)
        # The baseline (ranked by FTS5's bm25(), which counts each query word's articles
        # itself: archive/bm25.py) and ranking every match are timed query by query
        # with ours, so that a slow spell of the machine falls on all three alike.
        windowed, by_fts5, exhaustive = _search_times(
            archive, [({}, True), ({}, False), ({"rank_window": None}, True)]
        )
        out = work / "export.jsonl"
        began = time.perf_counter()
        with open(out, "w", encoding="utf-8") as handle:
            rows = write_export(archive, handle, "jsonl", ExportFilter())
        export_s = time.perf_counter() - began
        out.unlink()
    p50, p95 = _percentiles(windowed)
    fts5_p50, fts5_p95 = _percentiles(by_fts5)
    all_p50, all_p95 = _percentiles(exhaustive)
    return {
        "articles": count,
        "build_s": build_s,
        "rank_window": RANK_WINDOW,
        "queries": len(SEARCH_QUERIES),
        "queries_windowed": bounded,
        "search_p50_ms": p50,
        "search_p95_ms": p95,
        "search_max_ms": round(max(windowed), 1),
        "search_word_counts": word_counts,
        "search_bm25_p50_ms": fts5_p50,
        "search_bm25_p95_ms": fts5_p95,
        "search_all_p50_ms": all_p50,
        "search_all_p95_ms": all_p95,
        "export_rows_per_s": round(rows / export_s),
    }


# -- the run ---------------------------------------------------------------------------
def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}}
    print("scrapy bench …", file=sys.stderr)
    results["scrapy_bench"] = scrapy_bench(args.bench_seconds)

    print(f"crawl of {args.articles} articles ({args.family}) …", file=sys.stderr)
    server = Server(args.articles, args.family)
    try:
        db = work / "crawl" / "archive.sqlite"
        db.parent.mkdir()
        first = crawl(server.url, db, *_listing_cap(args.articles))
        first["bytes"] = archive_bytes(db)
        print("incremental re-crawl …", file=sys.stderr)
        again = crawl(server.url, db, *_listing_cap(args.articles))
        again["bytes"] = archive_bytes(db)
    finally:
        server.close()
    results["crawl"], results["recrawl"] = first, again

    results["rss"] = {}
    for size in args.rss_sizes:
        print(f"crawl of {size} articles for peak RSS …", file=sys.stderr)
        server = Server(size, args.family, images=not args.rss_no_images)
        try:
            db = work / f"rss-{size}" / "archive.sqlite"
            db.parent.mkdir()
            measured = crawl(server.url, db, *_listing_cap(size))
            measured["bytes"] = archive_bytes(db)
            results["rss"][size] = measured
        finally:
            server.close()

    print("parse speed …", file=sys.stderr)
    results["parse"] = parse_speed(args.parse_pages, args.repeat)
    print("SQLite inserts …", file=sys.stderr)
    results["insert"] = insert_rate(args.insert_articles, work)
    where = args.search_db or f"{args.search_articles} bulk-built articles"
    print(f"search and export on {where} …", file=sys.stderr)
    results["search"] = search_and_export(args.search_articles, work, args.search_db)
    return results


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a and b else "n/a"


def format_table(r: dict[str, Any]) -> str:
    bench, first, again = r["scrapy_bench"], r["crawl"], r["recrawl"]
    s = first["summary"]
    parse, ins, srch = r["parse"], r["insert"], r["search"]
    n = s["new"]
    total = first["bytes"]
    rows = [
        (
            f"crawl {n} articles: responses/s",
            first["responses_per_s"],
            f"scrapy bench {bench['pages_per_s']}",
            _ratio(first["responses_per_s"], bench["pages_per_s"]),
            "≥ 0.80×",
        ),
        (
            "crawl: HTML pages/s (listings + articles)",
            first["html_per_s"],
            f"scrapy bench {bench['pages_per_s']}",
            _ratio(first["html_per_s"], bench["pages_per_s"]),
            "",
        ),
        ("crawl: peak RSS MB", first["peak_rss_mb"], "", "", ""),
    ]
    for label in ("gold", "synthetic"):
        p = parse[label]
        rows.append(
            (
                f"parse pages/s, 1 core ({p['pages']} {label} pages)",
                p["ours"],
                f"trafilatura {p.get('trafilatura')}",
                _ratio(p["ours"], p.get("trafilatura")),
                "≥ 5×",
            )
        )
    rss = r["rss"]
    for size, m in rss.items():
        rows.append(
            (
                f"peak RSS MB, crawl of {size} articles",
                m["peak_rss_mb"],
                f"{m['responses_per_s']} resp/s",
                "",
                "",
            )
        )
    if len(rss) >= 2:
        sizes = sorted(rss, key=int)
        growth = rss[sizes[-1]]["peak_rss_mb"] - rss[sizes[0]]["peak_rss_mb"]
        rows.append((f"RSS growth {sizes[0]} → {sizes[-1]} MB", round(growth, 1), "", "", "< 50"))
    rows += [
        (f"SQLite store_article/s ({ins['articles']} articles)", ins["per_s"], "", "", ""),
        (
            "DB bytes/article (store_article)",
            ins["db_bytes_per_article"],
            f"raw HTML {ins['raw_html_bytes_per_article']}",
            _ratio(ins["db_bytes_per_article"], ins["raw_html_bytes_per_article"]),
            "",
        ),
        (
            "crawl archive bytes/article: db / WARC / media",
            f"{total['db'] // n} / {total['warc'] // n} / {total['media'] // n}",
            "",
            "",
            "",
        ),
        (
            f"re-crawl unchanged {n}: requests",
            again["summary"]["requests"],
            f"full crawl {first['summary']['requests']}",
            "",
            "< 100",
        ),
        (f"re-crawl unchanged {n}: seconds (wall)", again["wall_s"], "", "", ""),
        (
            f"search p50 / p95 ms ({srch['articles']} articles, rank window "
            f"{srch['rank_window']}: {srch['queries_windowed']}/{srch['queries']} queries hit it; "
            + ("word counts" if srch["search_word_counts"] else "bm25_df NOT installed")
            + ")",
            f"{srch['search_p50_ms']} / {srch['search_p95_ms']}",
            f"FTS5 bm25() {srch['search_bm25_p50_ms']} / {srch['search_bm25_p95_ms']}",
            _ratio(srch["search_p95_ms"], srch["search_bm25_p95_ms"]),
            "p95 < 100",
        ),
        (
            f"search p50 / p95 ms, all matches ranked ({srch['articles']} articles)",
            f"{srch['search_all_p50_ms']} / {srch['search_all_p95_ms']}",
            "",
            "",
            "",
        ),
        (
            f"JSONL export rows/s ({srch['articles']} articles)",
            srch["export_rows_per_s"],
            "",
            "",
            "",
        ),
    ]
    header = ("measure", "ours", "baseline", "ratio", "target")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(5)]
    lines = [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += [
        "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000, help="crawl size (default 2000)")
    parser.add_argument("--family", default="nukeviet", help="synthetic portal's CMS family")
    parser.add_argument("--rss-sizes", type=int, nargs="*", default=[], metavar="N")
    parser.add_argument(
        "--rss-no-images", action="store_true", help="RSS crawls: portal without images"
    )
    parser.add_argument("--parse-pages", type=int, default=150, help="synthetic pages to parse")
    parser.add_argument("--repeat", type=int, default=5, help="parse timing: best of N")
    parser.add_argument("--insert-articles", type=int, default=1000)
    parser.add_argument("--search-articles", type=int, default=100_000)
    parser.add_argument(
        "--search-db",
        type=Path,
        metavar="FILE",
        help="measure search and export on this archive instead of building one",
    )
    parser.add_argument("--bench-seconds", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="keep the archives here (default: temp dir)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        results = run(args, args.keep)
    else:
        with tempfile.TemporaryDirectory() as work:
            results = run(args, Path(work))
    print(json.dumps(results, indent=2, default=str) if args.json else format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
