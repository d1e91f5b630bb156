"""Score the article parser against the gold annotations of snapshot folders.

A snapshot folder (see shared/portals/FORMAT.md) holds ``gold/`` and
``gold-later/`` annotations; each gold page is found in ``responses.jsonl``
(or ``responses.later.jsonl`` for gold-later) by its URL's path and query,
parsed, and compared field by field.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from portal_crawler.parsing import parse_article
from portal_crawler.profiles import Profile, load_profiles, profile_from_dict

FIELDS = (
    "url",
    "section",
    "title",
    "published",
    "lead",
    "body",
    "images",
    "credit",
    "attachments",
)
_TRACKING_PREFIXES = ("utm_", "fbclid", "gclid", "zarsrc", "jsessionid")


@dataclass
class PageScore:
    """How one parsed page compares with its gold annotation."""

    gold_file: str
    exact: dict[str, bool]
    body_f1: float
    caption_f1: float
    mismatches: list[tuple[str, Any, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def all_exact(self) -> bool:
        return all(self.exact.values())


@dataclass
class SnapshotScore:
    portal: str
    generic: bool
    pages: list[PageScore] = field(default_factory=list)

    def rate(self, name: str) -> float:
        if not self.pages:
            return 0.0
        return sum(p.exact.get(name, False) for p in self.pages) / len(self.pages)

    @property
    def all_rate(self) -> float:
        if not self.pages:
            return 0.0
        return sum(p.all_exact for p in self.pages) / len(self.pages)

    @property
    def body_f1(self) -> float:
        return _mean([p.body_f1 for p in self.pages])

    @property
    def caption_f1(self) -> float:
        return _mean([p.caption_f1 for p in self.pages])


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def token_f1(gold: list[str], got: list[str]) -> float:
    """F1 of the multisets of whitespace-split words; 1.0 when both are empty."""
    gold_tokens = Counter(word for text in gold for word in text.split())
    got_tokens = Counter(word for text in got for word in text.split())
    if not gold_tokens and not got_tokens:
        return 1.0
    overlap = sum((gold_tokens & got_tokens).values())
    if overlap == 0:
        return 0.0
    precision = overlap / sum(got_tokens.values())
    recall = overlap / sum(gold_tokens.values())
    return 2 * precision * recall / (precision + recall)


def _captions(images: list[dict[str, Any]]) -> list[str]:
    return [img["caption"] for img in images if img.get("caption")]


def score_page(gold: dict[str, Any], got: dict[str, Any], gold_file: str) -> PageScore:
    exact = {name: gold.get(name) == got.get(name) for name in FIELDS}
    mismatches = [(name, gold.get(name), got.get(name)) for name in FIELDS if not exact[name]]
    return PageScore(
        gold_file=gold_file,
        exact=exact,
        body_f1=token_f1(gold.get("body") or [], got.get("body") or []),
        caption_f1=token_f1(
            _captions(gold.get("images") or []), _captions(got.get("images") or [])
        ),
        mismatches=mismatches,
    )


def _path_key(url: str, *, loose: bool = False) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    query = parts.query
    if loose:
        path = path.split(";", 1)[0].lower()
        pairs = [
            (k, v)
            for k, v in parse_qsl(query, keep_blank_values=True)
            if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() != "redirect"
        ]
        query = urlencode(pairs)
    return f"{path}?{query}" if query else path


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _final_exchange(line: dict[str, Any]) -> dict[str, Any] | None:
    """The 200 answer of a line: the line itself or its retried ``then``."""
    if line.get("method", "GET") != "GET":
        return None
    if line.get("status") == 200 and line.get("body"):
        return line
    then = line.get("then")
    if isinstance(then, dict) and then.get("status") == 200 and then.get("body"):
        return then
    return None


def find_page(
    snapshot_dir: Path, gold_url: str, *, later: bool
) -> tuple[bytes, dict[str, str]] | None:
    """The body and headers the snapshot serves for a gold page's URL."""
    lines = _read_lines(snapshot_dir / ("responses.later.jsonl" if later else "responses.jsonl"))
    for loose in (False, True):
        wanted = _path_key(gold_url, loose=loose)
        for line in lines:
            if _path_key(line.get("path", ""), loose=loose) != wanted:
                continue
            exchange = _final_exchange(line)
            if exchange is None:
                continue
            body = (snapshot_dir / exchange["body"]).read_bytes()
            return body, dict(exchange.get("headers") or {})
    return None


def snapshot_profile(site: dict[str, Any], *, use_profile: bool) -> Profile:
    """The shipped profile of the snapshot's portal, or one built from site.json."""
    base = site["base_url"].rstrip("/")
    if use_profile:
        for profile in load_profiles().values():
            if profile.base_url.rstrip("/") == base:
                return profile
    return profile_from_dict(
        {
            "id": site.get("id", "snapshot"),
            "name": site.get("name", base),
            "base_url": base,
            "family": "generic",
            "sections": site.get("sections", []),
        }
    )


def iter_gold(snapshot_dir: Path) -> Iterator[tuple[Path, bool]]:
    for folder, later in (("gold", False), ("gold-later", True)):
        for path in sorted((snapshot_dir / folder).glob("*.json")):
            yield path, later


def evaluate_snapshot(snapshot_dir: Path, *, use_profile: bool = True) -> SnapshotScore:
    snapshot_dir = Path(snapshot_dir)
    site = json.loads((snapshot_dir / "site.json").read_text(encoding="utf-8"))
    profile = snapshot_profile(site, use_profile=use_profile)
    score = SnapshotScore(portal=site.get("id", snapshot_dir.name), generic=not use_profile)
    for gold_path, later in iter_gold(snapshot_dir):
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        label = f"{gold_path.parent.name}/{gold_path.name}"
        page = find_page(snapshot_dir, gold["url"], later=later)
        if page is None:
            got: dict[str, Any] = {}
            error = "page not found in the snapshot"
        else:
            body, headers = page
            article = parse_article(
                gold["url"], body, headers, profile=profile, section=gold.get("section")
            )
            got = article.to_dict()
            error = None
        page_score = score_page(gold, got, label)
        page_score.error = error
        score.pages.append(page_score)
    return score


def _pct(value: float) -> str:
    return f"{100 * value:5.1f}"


def format_table(scores: list[SnapshotScore], *, details: bool = False) -> str:
    """One row per portal plus a TOTAL row; with details, every mismatch."""
    short = {"published": "date", "attachments": "attach"}
    names = [short.get(n, n) for n in FIELDS]
    header = f"{'portal':<10} {'pages':>5} " + " ".join(f"{n:>7}" for n in names)
    header += f" {'ALL':>7} {'bodyF1':>7} {'capF1':>7}"
    lines = [header, "-" * len(header)]
    everything = SnapshotScore(portal="TOTAL", generic=False)
    for score in scores:
        everything.pages.extend(score.pages)
        lines.append(_row(score))
    if len(scores) != 1:
        lines.append("-" * len(header))
        lines.append(_row(everything))
    if details:
        for score in scores:
            for page in score.pages:
                if page.error:
                    lines.append(f"{score.portal} {page.gold_file}: {page.error}")
                for name, gold, got in page.mismatches:
                    lines.append(f"{score.portal} {page.gold_file} [{name}]")
                    lines.append(f"    gold: {_short(gold)}")
                    lines.append(f"    got:  {_short(got)}")
    return "\n".join(lines)


def _row(score: SnapshotScore) -> str:
    cells = " ".join(f"{_pct(score.rate(n)):>7}" for n in FIELDS)
    return (
        f"{score.portal:<10} {len(score.pages):>5} {cells} {_pct(score.all_rate):>7}"
        f" {score.body_f1:7.3f} {score.caption_f1:7.3f}"
    )


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scores_to_json(scores: list[SnapshotScore]) -> list[dict[str, Any]]:
    return [
        {
            "portal": s.portal,
            "generic": s.generic,
            "pages": len(s.pages),
            "exact": {n: s.rate(n) for n in FIELDS},
            "all": s.all_rate,
            "body_f1": s.body_f1,
            "caption_f1": s.caption_f1,
            "mismatches": [
                {"page": p.gold_file, "field": n, "gold": g, "got": o}
                for p in s.pages
                for n, g, o in p.mismatches
            ],
        }
        for s in scores
    ]


def run_eval(dirs: list[Path], generic: bool, details: bool, as_json: bool) -> int:
    """Print the scores of the snapshot folders; 0 when every field is exact everywhere."""
    scores = []
    for folder in dirs:
        folder = Path(folder)
        if not (folder / "site.json").exists():
            print(f"error: {folder} is not a snapshot folder (no site.json)")
            return 2
        scores.append(evaluate_snapshot(folder, use_profile=not generic))
    if as_json:
        print(json.dumps(scores_to_json(scores), ensure_ascii=False, indent=2))
    else:
        mode = "generic extraction (no profiles)" if generic else "with profiles"
        print(f"Gold-page scores, {mode}: % of pages exact per field; token F1 of body/captions")
        print(format_table(scores, details=details))
    return 0 if all(p.all_exact for s in scores for p in s.pages) else 1
