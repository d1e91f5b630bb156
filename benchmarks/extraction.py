"""Score article extraction on every gold page of the snapshots, against other extractors.

    python benchmarks/extraction.py [SNAPSHOT_DIR ...] [--repeat N] [--json]

Systems: our parser in generic mode (profiles disabled) and with profiles, plus
trafilatura, newspaper4k and readability-lxml (benchmark-only extras:
``pip install -e '.[bench]'``; a missing one is skipped). Every system sees the
same page bytes in the same run, one process, one core.

Metrics (per system, over all gold pages):
- all exact: every gold field equal (ours only: the others do not produce all fields);
- title: headline equal after white-space folding;
- time: ``published`` equal to the minute ("2020-08-03T10:40"), or equal as a date
  where the gold has a date only;
- date: the day equal;
- body F1: token F1 of the body paragraphs against the gold body (lead, captions and
  by-line are not body, as in ``portal-archive eval``);
- caption F1: token F1 of the image captions (n/a for systems without captions);
- by-line: the set of credited names (writers, photographers, sources) equal to the
  gold's, no credit counting as the empty set;
- pages/s: pages extracted per second, best of ``--repeat`` runs (interleaved: each
  round runs every system once; every functools cache is emptied before each run, so
  that no system is timed on results it cached from an earlier run of the same pages).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal_crawler.evaluation import (  # noqa: E402
    FIELDS,
    find_page,
    iter_gold,
    snapshot_profile,
    token_f1,
)
from portal_crawler.parsing import parse_article  # noqa: E402
from portal_crawler.parsing.decode import decode_html  # noqa: E402
from portal_crawler.parsing.text import normalize_text  # noqa: E402
from portal_crawler.profiles import Profile  # noqa: E402

DEFAULT_DIRS = sorted(
    p
    for folder in ("tests/fixtures/portals", "tests/fixtures/extra_portals")
    for p in (ROOT / folder).iterdir()
    if (p / "site.json").is_file()
)


@dataclass
class Page:
    portal: str
    gold: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    generic: Profile
    profiled: Profile
    text: str = ""  # decoded once, for the extractors that want a str


@dataclass
class Output:
    """What a system extracted from one page, in gold terms (None: not produced)."""

    title: str | None = None
    published: str | None = None
    body: list[str] = field(default_factory=list)
    captions: list[str] | None = None
    names: set[str] | None = None
    record: dict[str, Any] | None = None  # the full gold-format record (ours)


def load_pages(dirs: list[Path]) -> list[Page]:
    pages = []
    for folder in dirs:
        site = json.loads((folder / "site.json").read_text(encoding="utf-8"))
        generic = snapshot_profile(site, use_profile=False)
        profiled = snapshot_profile(site, use_profile=True)
        for gold_path, later in iter_gold(folder):
            gold = json.loads(gold_path.read_text(encoding="utf-8"))
            found = find_page(folder, gold["url"], later=later)
            if found is None:
                raise SystemExit(f"{gold_path}: page not in the snapshot")
            body, headers = found
            headers = {k.lower(): v for k, v in headers.items()}
            pages.append(Page(folder.name, gold, body, headers, generic, profiled))
    for page in pages:
        page.text = decode_html(page.body, page.headers)
    return pages


def credit_names(credit: dict[str, Any] | None) -> set[str]:
    if not credit:
        return set()
    return {n for key in ("text_by", "photo_by", "source") for n in credit.get(key) or []}


def _ours(page: Page, profile: Profile) -> Output:
    article = parse_article(
        page.gold["url"], page.body, page.headers, profile=profile, section=page.gold["section"]
    )
    record = article.to_dict()
    return Output(
        title=record["title"],
        published=record["published"],
        body=record["body"],
        captions=[img["caption"] for img in record["images"] if img["caption"]],
        names=credit_names(record["credit"]),
        record=record,
    )


def ours_generic(page: Page) -> Output:
    return _ours(page, page.generic)


def ours_profiles(page: Page) -> Output:
    return _ours(page, page.profiled)


def _lines(text: str | None) -> list[str]:
    return [line for line in (normalize_text(t) for t in (text or "").split("\n")) if line]


def _split_names(value: str | None) -> set[str]:
    if not value:
        return set()
    return {normalize_text(n) for n in value.replace(";", ",").split(",") if normalize_text(n)}


def make_trafilatura() -> Callable[[Page], Output] | None:
    try:
        import trafilatura
    except ImportError:
        return None

    def run(page: Page) -> Output:
        doc = trafilatura.bare_extraction(
            page.body, url=page.gold["url"], include_comments=False, with_metadata=True
        )
        if doc is None:
            return Output(names=set())
        return Output(
            title=normalize_text(doc.title or "") or None,
            published=doc.date,
            body=_lines(doc.text),
            names=_split_names(doc.author),
        )

    return run


def make_newspaper() -> Callable[[Page], Output] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import newspaper
    except ImportError:
        return None

    def run(page: Page) -> Output:
        article = newspaper.Article(page.gold["url"], language="vi", fetch_images=False)
        article.download(input_html=page.text)
        article.parse()
        published = None
        if article.publish_date is not None:
            stamp = article.publish_date
            published = (
                stamp.strftime("%Y-%m-%dT%H:%M:%S")
                if stamp.hour or stamp.minute
                else (stamp.date().isoformat())
            )
        return Output(
            title=normalize_text(article.title or "") or None,
            published=published,
            body=_lines(article.text),
            names={normalize_text(a) for a in article.authors if normalize_text(a)},
        )

    return run


def make_readability() -> Callable[[Page], Output] | None:
    try:
        import lxml.html
        from readability import Document
    except ImportError:
        return None
    blocks = ("p", "div", "li", "td", "h1", "h2", "h3", "h4", "blockquote", "pre")

    def run(page: Page) -> Output:
        doc = Document(page.text)
        tree = lxml.html.fromstring(doc.summary(html_partial=True))
        body = []
        for el in tree.iter(*blocks):
            if any(child.tag in blocks for child in el):
                continue  # its block children are paragraphs of their own
            text = normalize_text(el.text_content())
            if text:
                body.append(text)
        return Output(title=normalize_text(doc.short_title()) or None, body=body)

    return run


def _minute(value: str | None) -> str | None:
    if not value:
        return None
    return value[:16] if "T" in value else value[:10]


@dataclass
class Score:
    system: str
    pages: int = 0
    all_exact: int | None = None
    title: int = 0
    time: int = 0
    date: int = 0
    body_f1: float = 0.0
    caption_f1: float | None = None
    byline: int | None = None
    seconds: float = 0.0

    def add(self, page: Page, out: Output) -> None:
        gold = page.gold
        self.pages += 1
        if out.record is not None:
            self.all_exact = (self.all_exact or 0) + all(out.record[k] == gold[k] for k in FIELDS)
        self.title += out.title == gold["title"]
        self.time += _minute(out.published) == _minute(gold["published"])
        self.date += (out.published or "")[:10] == gold["published"][:10]
        self.body_f1 += token_f1(gold["body"], out.body)
        if out.captions is not None:
            gold_captions = [img["caption"] for img in gold["images"] if img["caption"]]
            self.caption_f1 = (self.caption_f1 or 0.0) + token_f1(gold_captions, out.captions)
        if out.names is not None:
            self.byline = (self.byline or 0) + (out.names == credit_names(gold["credit"]))

    def row(self) -> dict[str, Any]:
        n = self.pages or 1

        def pct(value: int | None) -> float | None:
            return None if value is None else round(100 * value / n, 1)

        return {
            "system": self.system,
            "pages": self.pages,
            "all_exact": pct(self.all_exact),
            "title": pct(self.title),
            "time": pct(self.time),
            "date": pct(self.date),
            "body_f1": round(self.body_f1 / n, 3),
            "caption_f1": None if self.caption_f1 is None else round(self.caption_f1 / n, 3),
            "byline": pct(self.byline),
            "pages_per_s": round(self.pages / self.seconds, 1) if self.seconds else None,
        }


def clear_caches() -> int:
    """Empty every functools LRU cache in the process (ours and the other systems').

    Each timed pass then starts cold, as on pages never seen before: the passes repeat
    the same pages, and caches keyed by page text (trafilatura and htmldate keep many)
    would otherwise time lookups rather than extraction.
    """
    cleared = 0
    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper):
            obj.cache_clear()
            cleared += 1
    return cleared


def run_systems(
    systems: list[tuple[str, Callable[[Page], Output]]], pages: list[Page], repeat: int
) -> list[Score]:
    """Time every system on every page, best of `repeat` passes.

    The passes are interleaved (each round runs every system once), so that a burst of
    load on a shared machine slows all systems alike instead of one.
    """
    best = {name: float("inf") for name, _ in systems}
    outputs: dict[str, list[Output]] = {}
    for _ in range(max(1, repeat)):
        for name, extract in systems:
            clear_caches()
            start = time.perf_counter()
            outputs[name] = [extract(page) for page in pages]
            best[name] = min(best[name], time.perf_counter() - start)
    scores = []
    for name, _ in systems:
        score = Score(name, seconds=best[name])
        for page, out in zip(pages, outputs[name], strict=True):
            score.add(page, out)
        scores.append(score)
    return scores


def format_table(rows: list[dict[str, Any]]) -> str:
    columns = [
        ("system", "system", 22),
        ("all_exact", "all exact %", 11),
        ("title", "title %", 8),
        ("time", "time %", 7),
        ("date", "date %", 7),
        ("body_f1", "body F1", 8),
        ("caption_f1", "caption F1", 10),
        ("byline", "by-line %", 9),
        ("pages_per_s", "pages/s", 8),
    ]
    lines = [
        "| " + " | ".join(f"{title:<{w}}" for _, title, w in columns) + " |",
        "|" + "|".join("-" * (w + 2) for _, _, w in columns) + "|",
    ]
    for row in rows:
        cells = []
        for key, _, width in columns:
            value = row[key]
            text = "n/a" if value is None else str(value)
            cells.append(f"{text:<{width}}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snapshots", nargs="*", type=Path, help="snapshot folders (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs per system (best)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    dirs = [Path(d) for d in args.snapshots] or DEFAULT_DIRS
    pages = load_pages(dirs)
    systems: list[tuple[str, Callable[[Page], Output] | None]] = [
        ("ours (generic)", ours_generic),
        ("ours (profiles)", ours_profiles),
        ("trafilatura", make_trafilatura()),
        ("newspaper4k", make_newspaper()),
        ("readability-lxml", make_readability()),
    ]
    available = []
    for name, extract in systems:
        if extract is None:
            print(f"skipping {name}: not installed (pip install -e '.[bench]')", file=sys.stderr)
        else:
            available.append((name, extract))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = [score.row() for score in run_systems(available, pages, args.repeat)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    portals = sorted({p.portal for p in pages})
    print(f"{len(pages)} gold pages from {len(portals)} snapshots: {', '.join(portals)}")
    print(format_table(rows))
    speed = {row["system"]: row["pages_per_s"] for row in rows}
    if speed.get("trafilatura") and speed.get("ours (generic)"):
        ratio = speed["ours (generic)"] / speed["trafilatura"]
        print(f"generic parsing is {ratio:.1f}x trafilatura's pages/s in this run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
