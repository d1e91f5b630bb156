"""Export benchmark: rows/s and peak memory of a JSONL (and CSV) export, by archive size.

Builds synthetic archives (10,000 and 100,000 articles by default: rows written in
bulk straight into SQLite, not through the crawler; text in the manner of the
snapshots' real articles, see TextModel), then exports each in a fresh
child process and reports rows per second, the process's peak resident memory
and the peak of Python allocations (tracemalloc, in a second pass). The export
streams, so the peaks should not grow with the number of rows.

    python benchmarks/export.py [--sizes 10000 100000] [--formats jsonl csv] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive import Archive, ExportFilter, write_export  # noqa: E402

PORTALS = ("anbien", "hailang", "mocaynam", "tanthanh", "trieuson")
# Real articles of the snapshots: the text model learns Vietnamese news from them.
GOLD_DIRS = (ROOT / "tests" / "fixtures" / "portals", ROOT / "tests" / "fixtures" / "extra_portals")
# How often the next word follows the article's own source rather than all sources:
# real articles stay on their topic, so a word is frequent in few articles, not in all.
TOPICAL = 0.9
START, END = "", None
_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"\W*\d[\d\W]*$")  # "2.000", "04/9,", not "COVID-19"
BUILD_BATCH = 5000


Chain = dict[str, list[str | None]]


def _learn(chains: tuple[Chain, ...], text: str | None) -> None:
    words = (text or "").split()
    for prev, nxt in zip([START, *words], [*words, END], strict=True):
        for chain in chains:
            chain.setdefault(prev, []).append(nxt)


class TextModel:
    """Bigram chains over the words of the snapshots' real articles: all, and each one's.

    A synthetic article follows one real article of its portal (its topic) most of the
    time and all of them otherwise. Word frequencies are then those of real news:
    Zipf-like, bursty (a word frequent in an article is absent from most), phrases such
    as "nông thôn mới" where real text has them. Numbers get fresh digits: the long
    tail of rare terms that a large archive has.
    """

    def __init__(self) -> None:
        self.titles: Chain = {}
        self.text: Chain = {}
        self.sources: dict[str, list[tuple[Chain, Chain]]] = {}
        for folder in GOLD_DIRS:
            for path in sorted(folder.glob("*/gold/*.json")):
                article = json.loads(path.read_text(encoding="utf-8"))
                title: Chain = {}
                text: Chain = {}
                _learn((self.titles, title), article["title"])
                for paragraph in [article["lead"], *article["body"]]:
                    _learn((self.text, text), paragraph)
                for image in article["images"]:
                    _learn((self.text, text), image["caption"])
                self.sources.setdefault(path.parent.parent.name, []).append((title, text))
        self.anyone = [source for sources in self.sources.values() for source in sources]
        self.numbers = {w for chain in (self.titles, self.text) for w in chain if _NUMBER.match(w)}

    def article(self, rng: random.Random, portal: str) -> dict[str, Any]:
        """Title, lead, five body paragraphs and two captions in the manner of one source."""
        title, text = rng.choice(self.sources.get(portal) or self.anyone)
        return {
            "title": self._paragraph(rng, title, self.titles, 12),
            "lead": self._paragraph(rng, text, self.text, 30),
            "body": [self._paragraph(rng, text, self.text, 36) for _ in range(5)],
            "captions": [self._paragraph(rng, text, self.text, 10) for _ in range(2)],
        }

    def _paragraph(self, rng: random.Random, own: Chain, every: Chain, words: int) -> str:
        """About `words` words, ending a sentence where the chains allow (cut at 1.5 × words)."""
        out: list[str] = []
        prev: str = START
        draw = rng.random  # rng.choice is the slow part of building a million articles
        while len(out) < words * 3 // 2:
            options = (own if prev in own and draw() < TOPICAL else every)[prev]
            nxt = options[int(draw() * len(options))]
            if nxt is END:
                if len(out) >= words // 2:
                    break
                prev = START
                continue
            prev = nxt
            if nxt in self.numbers:
                nxt = _DIGIT.sub(lambda _: rng.choice("0123456789"), nxt)
            out.append(nxt)
            if len(out) >= words and nxt[-1] in ".!?":
                break
        return " ".join(out)


def build(path: Path, count: int, seed: int = 5) -> None:
    """An archive of `count` synthetic articles (about 1.8 kB of text each, 2 images)."""
    Archive.open(path).close()  # the schema, exactly as the archive creates it
    rng = random.Random(seed)
    model = TextModel()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.executemany(
        "INSERT INTO portals (id, name, base_url) VALUES (?, ?, ?)",
        [(p, f"Cổng thông tin điện tử {p}", f"https://{p}.gov.vn") for p in PORTALS],
    )
    now = "2026-11-27T12:00:00Z"
    for start in range(1, count + 1, BUILD_BATCH):
        ids = range(start, min(start + BUILD_BATCH, count + 1))
        articles, revisions, images = [], [], []
        for i in ids:
            portal = PORTALS[i % len(PORTALS)]
            day = f"20{10 + i % 15}-{1 + i % 12:02d}-{1 + i % 28:02d}"
            text = model.article(rng, portal)
            title, lead = text["title"], text["lead"]
            body = json.dumps(text["body"], ensure_ascii=False)
            credit = json.dumps(
                {"raw": "Tin và ảnh: Quốc Vương", "text_by": ["Quốc Vương"], "photo_by": None,
                 "source": None},
                ensure_ascii=False,
            )  # fmt: skip
            url = f"https://{portal}.gov.vn/tin/{i}"
            digest = f"{i:064x}"
            articles.append(
                (i, portal, url, "Hoạt động địa phương", title, f"{day}T08:00:00+07:00", day,
                 lead, body, credit, digest, now, now, "bench", 1)
            )  # fmt: skip
            imgs = [{"src": f"{url}/{k}.jpg", "caption": c} for k, c in enumerate(text["captions"])]
            images += [(i, k, img["src"], img["caption"]) for k, img in enumerate(imgs)]
            revisions.append(
                (i, 1, digest, url, "Hoạt động địa phương", title, f"{day}T08:00:00+07:00", lead,
                 body, json.dumps(imgs, ensure_ascii=False), credit, "[]", "bench", now, "new")
            )  # fmt: skip
        conn.executemany(
            "INSERT INTO articles (id, portal_id, url, section, title, published, "
            "published_date, lead, body, credit, content_hash, first_seen_at, last_seen_at, "
            "parser_version, revision) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            articles,
        )
        conn.executemany(
            "INSERT INTO images (article_id, position, src, caption) VALUES (?,?,?,?)", images
        )
        conn.executemany(
            "INSERT INTO article_revisions (article_id, revision, content_hash, url, section, "
            "title, published, lead, body, images, credit, attachments, parser_version, "
            "observed_at, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            revisions,
        )
        conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def child(db: Path, fmt: str, out: Path) -> dict[str, Any]:
    """One export in this (fresh) process: rows, seconds, peak RSS, Python peak."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Archive.open(db) as archive:
        started = time.perf_counter()
        with open(out, "w", encoding="utf-8", newline="") as handle:
            rows = write_export(archive, handle, fmt, ExportFilter())
        seconds = time.perf_counter() - started
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        with open(out, "w", encoding="utf-8", newline="") as handle:
            write_export(archive, handle, fmt, ExportFilter())
        _, python_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "format": fmt,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(rss_peak / 1024, 1),
        "rss_before_export_mb": round(rss_before / 1024, 1),
        "python_peak_mb": round(python_peak / 2**20, 2),
        "output_mb": round(out.stat().st_size / 2**20, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--formats", nargs="+", default=["jsonl", "csv"], choices=["jsonl", "csv"])
    parser.add_argument("--dir", type=Path, help="keep the archives here (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", nargs=3, metavar=("DB", "FORMAT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        db, fmt, out = args.child
        print(json.dumps(child(Path(db), fmt, Path(out))))
        return 0

    folder = args.dir or Path(tempfile.mkdtemp(prefix="export-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for size in args.sizes:
        db = folder / f"archive-{size}.sqlite"
        if not db.exists():
            started = time.perf_counter()
            build(db, size)
            built = time.perf_counter() - started
            print(f"built {size:,} articles in {built:.1f} s ({db.stat().st_size / 2**20:.0f} MB)",
                  file=sys.stderr)  # fmt: skip
        for fmt in args.formats:
            out = folder / f"export-{size}.{fmt}"
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(db), fmt, str(out)],
                check=True,
                capture_output=True,
                text=True,
            )
            results.append({"articles": size, **json.loads(done.stdout)})
            out.unlink()
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    header = (
        "articles",
        "format",
        "rows/s",
        "seconds",
        "peak RSS MB",
        "Python peak MB",
        "output MB",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for r in results:
        print(
            f"{r['articles']:,} | {r['format']} | {r['rows_per_s']:,} | {r['seconds']} | "
            f"{r['peak_rss_mb']} | {r['python_peak_mb']} | {r['output_mb']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
