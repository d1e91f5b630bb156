"""Mutation fuzzing of the article parser over the snapshot pages.

    python benchmarks/fuzz.py [N] [--seed S] [--cli K] [--big K] [SNAPSHOT_DIR ...]

Takes every HTML page of the snapshots (default: all of tests/fixtures), applies one to
three random mutations to each input (byte flips, truncation mid-tag, splices of other
pages and tag soup, NUL bytes, invalid UTF-8, re-encoding as UTF-16/32 or windows-1258
with or without a byte order mark, lying <meta charset> and Content-Type labels,
nesting bombs, malformed URLs, binary noise) and parses N such inputs, half generically
and half with the portal's profile. `--big K` adds K pages of 10 to 50 MB; `--cli K`
also runs K of the inputs through `portal-archive parse` in a subprocess.

Reports the number of inputs, unhandled exceptions (exceptions out of parse_article),
internal errors (exceptions its safety net caught: a whole page lost), broken invariants
(text not NFC, control characters, a success without title, body or date) and the slowest
input. Exits 1 when any of these is not zero. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import codecs
import json
import logging
import random
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal_crawler.evaluation import snapshot_profile  # noqa: E402
from portal_crawler.parsing import parse_article  # noqa: E402
from portal_crawler.parsing.article import Article, missing_fields  # noqa: E402
from portal_crawler.profiles import Profile  # noqa: E402

DEFAULT_DIRS = sorted(
    p
    for folder in ("tests/fixtures/portals", "tests/fixtures/extra_portals")
    for p in (ROOT / folder).iterdir()
    if (p / "site.json").is_file()
)


@dataclass
class Seed:
    url: str
    body: bytes
    headers: dict[str, str]
    generic: Profile
    profiled: Profile


@dataclass
class Case:
    seed: Seed
    body: bytes
    headers: dict[str, str]
    profile: Profile
    steps: list[str] = field(default_factory=list)


def load_seeds(dirs: list[Path]) -> list[Seed]:
    """Every HTML response body of the snapshots, with the URL and headers it was served at."""
    seeds = []
    for folder in dirs:
        site = json.loads((folder / "site.json").read_text(encoding="utf-8"))
        generic = snapshot_profile(site, use_profile=False)
        profiled = snapshot_profile(site, use_profile=True)
        seen: set[str] = set()
        for name in ("responses.jsonl", "responses.later.jsonl"):
            path = folder / name
            if not path.is_file():
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                headers = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
                body_file = entry.get("body")
                if not body_file or body_file in seen:
                    continue
                if "html" not in headers.get("content-type", "text/html"):
                    continue
                seen.add(body_file)
                body = (folder / body_file).read_bytes()
                url = site["base_url"].rstrip("/") + entry["path"]
                seeds.append(Seed(url, body, headers, generic, profiled))
    return seeds


# -- mutations: each takes (rng, body, headers, other page) and returns (body, headers) -----
Mutation = Callable[[random.Random, bytes, dict[str, str], bytes], tuple[bytes, dict[str, str]]]

_SOUP = [
    b"<div>",
    b"</div>",
    b"<p>",
    b"</p></p>",
    b"<table><tr><td>",
    b"</td></tr>",
    b"<<>>",
    b"<!--",
    b"-->",
    b"<![CDATA[",
    b"]]>",
    b"<script>",
    b"<style>",
    b"<title>",
    b"<textarea>",
    b"<noscript>",
    b"<h1>",
    b"<img src=",
    b'<a href="',
    b"<br/><br/>",
    b"&#0;&#xD800;&#x110000;&bogus;&amp",
    b"<?xml version='1.0' encoding='utf-16'?>",
    b"<!DOCTYPE html SYSTEM 'http://x'>",
    b"<svg><math><template><iframe>",
    b'<div class="content detail" style="display:none">',
    b'<p class="sapo">',
    b'<meta property="article:published_time" content="9999-99-99T99:99">',
    b'<script type="application/ld+json">' + b"[" * 5000 + b"</script>",
    b'<link rel="canonical" href="http://[bad/">',
    b'<img src="http://[::1" data-src="//[x">',
    b"<a href=\"javascript:downloadFile('/x.pdf')\" onclick=\"x('/y.doc')\">",
    b'<base href="http://[broken">',
    "<p>Tin và ảnh: Nguyễn Văn A</p>".encode(),
    b"<span>03/08/2020 10:40 SA</span>",
]
_CHARSET_LABELS = [
    "utf-8",
    "utf-16",
    "utf-16le",
    "windows-1258",
    "windows-1252",
    "iso-8859-1",
    "latin1",
    "x-unknown",
    "utf-7",
    "shift_jis",
    "",
    '"utf-8"',
    "utf-32",
]


def _pos(rng: random.Random, body: bytes) -> int:
    return rng.randrange(len(body) + 1)


def byte_flips(rng, body, headers, other):
    data = bytearray(body)
    for _ in range(rng.choice([1, 5, 50, 500])):
        if data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data), headers


def truncate(rng, body, headers, other):
    if rng.random() < 0.5:  # right after a "<": cut mid-tag
        starts = [i for i in range(len(body)) if body[i] == 0x3C][:5000]
        if starts:
            return body[: rng.choice(starts) + rng.randrange(1, 6)], headers
    return body[: _pos(rng, body)], headers


def splice(rng, body, headers, other):
    a, b = sorted((_pos(rng, other), _pos(rng, other)))
    at = _pos(rng, body)
    return body[:at] + other[a:b] + body[at:], headers


def tag_soup(rng, body, headers, other):
    for _ in range(rng.randint(1, 30)):
        at = _pos(rng, body)
        body = body[:at] + rng.choice(_SOUP) + body[at:]
    return body, headers


def nul_bytes(rng, body, headers, other):
    for _ in range(rng.randint(1, 200)):
        at = _pos(rng, body)
        body = body[:at] + b"\x00" * rng.randint(1, 3) + body[at:]
    return body, headers


def invalid_utf8(rng, body, headers, other):
    junk = [b"\xff", b"\xfe\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xe1\xba", b"\xf4\x90\x80\x80"]
    for _ in range(rng.randint(1, 100)):
        at = _pos(rng, body)
        body = body[:at] + rng.choice(junk) + body[at:]
    return body, headers


def reencode(rng, body, headers, other):
    text = body.decode("utf-8", errors="replace")
    codec = rng.choice(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1258", "cp1252"])
    if codec == "cp1258":
        text = unicodedata.normalize("NFD", text)
    data = text.encode(codec, errors="replace")
    if codec in ("utf-16-le", "utf-16-be") and rng.random() < 0.5:
        bom = codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE
        data = bom + data
    return data, headers


def charset_lies(rng, body, headers, other):
    label = rng.choice(_CHARSET_LABELS)
    headers = dict(headers)
    headers["content-type"] = f"text/html; charset={label}" if label else "text/html"
    if rng.random() < 0.5:
        meta = f'<meta charset="{rng.choice(_CHARSET_LABELS)}">'.encode()
        at = body.find(b"<head>")
        at = at + 6 if at >= 0 else 0
        body = body[:at] + meta + body[at:]
    return body, headers


def nesting_bomb(rng, body, headers, other):
    units = [b"<div>", b"<span><div>", b"<table><tr><td>", b"<ul><li>", b"<b><i>", b"<p>"]
    unit = rng.choice(units)
    depth = rng.choice([300, 3000, 30000, 100000])
    at = _pos(rng, body)
    close = (b"</" + unit[1:].split(b">")[0] + b">") * (depth // 2)  # some closed, most not
    return body[:at] + unit * depth + close + body[at:], headers


def binary_noise(rng, body, headers, other):
    size = rng.choice([0, 1, 7, 100, 5000, 100_000])
    noise = rng.randbytes(size)
    if rng.random() < 0.5:
        return noise, headers
    at = _pos(rng, body)
    return body[:at] + noise + body[at:], headers


def blank(rng, body, headers, other):
    choices = [b"", b" ", b"\n\t ", b"\xef\xbb\xbf", b"\xff\xfe", b"<html></html>"]
    return rng.choice(choices), headers


def duplicate(rng, body, headers, other):
    a, b = sorted((_pos(rng, body), _pos(rng, body)))
    chunk = body[a:b][:200_000]
    return body[:b] + chunk * rng.randint(2, 20) + body[b:], headers


MUTATIONS: list[tuple[str, Mutation, int]] = [
    ("byte_flips", byte_flips, 6),
    ("truncate", truncate, 5),
    ("splice", splice, 4),
    ("tag_soup", tag_soup, 6),
    ("nul_bytes", nul_bytes, 2),
    ("invalid_utf8", invalid_utf8, 3),
    ("reencode", reencode, 3),
    ("charset_lies", charset_lies, 3),
    ("nesting_bomb", nesting_bomb, 1),
    ("binary_noise", binary_noise, 1),
    ("blank", blank, 1),
    ("duplicate", duplicate, 2),
]


def make_case(rng: random.Random, seeds: list[Seed]) -> Case:
    seed = rng.choice(seeds)
    body, headers = seed.body, dict(seed.headers)
    steps = []
    names = [m[0] for m in MUTATIONS]
    weights = [m[2] for m in MUTATIONS]
    functions = {m[0]: m[1] for m in MUTATIONS}
    for name in rng.choices(names, weights, k=rng.randint(1, 3)):
        other = rng.choice(seeds).body
        body, headers = functions[name](rng, body, headers, other)
        steps.append(name)
    profile = seed.profiled if rng.random() < 0.5 else seed.generic
    return Case(seed, body, headers, profile, steps)


def big_case(rng: random.Random, seeds: list[Seed]) -> Case:
    seed = rng.choice(seeds)
    target = rng.randint(10, 50) * 1024 * 1024
    kind = rng.choice(["repeat", "soup", "text"])
    if kind == "repeat":
        body = seed.body * (target // max(1, len(seed.body)) + 1)
    elif kind == "soup":
        body = seed.body + b"<div><p>x</p><img src=a.jpg><br>" * (target // 32)
    else:
        body = seed.body.replace(b"</body>", b"Chi tiet " * (target // 9) + b"</body>")
    return Case(seed, body, dict(seed.headers), seed.generic, [f"big_{kind}_{len(body) >> 20}MB"])


# -- checks ------------------------------------------------------------------------------
class _Counter(logging.Handler):
    """Counts the parser's safety-net catches (logged with a traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        self.last = record.getMessage() + (
            " " + logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        )


def invariant_problems(article: Article) -> list[str]:
    """What is wrong with an extracted article whatever the input was."""
    problems = []
    record = article.to_dict()
    json.dumps(record)  # serialisable
    texts = [record["title"], record["lead"], *(record["body"] or [])]
    texts += [img["caption"] for img in record["images"]]
    for text in texts:
        if text is None:
            continue
        if not isinstance(text, str) or not text.strip():
            problems.append(f"empty or non-text field {text!r}")
        elif unicodedata.normalize("NFC", text) != text:
            problems.append("text not NFC")
        elif any(ord(c) < 32 for c in text):
            problems.append("control character in text")
    if not missing_fields(article) and not (article.title and article.body and article.published):
        problems.append("success without title, body or date")
    return problems


@dataclass
class Report:
    inputs: int = 0
    unhandled: int = 0
    internal: int = 0
    invariants: int = 0
    articles: int = 0
    slowest: float = 0.0
    slowest_steps: str = ""
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)


SAVE_DIR: Path | None = None  # --save: where failing inputs are written


def check_case(case: Case, report: Report, errors: _Counter) -> None:
    before = errors.count
    start = time.perf_counter()
    try:
        article = parse_article(case.seed.url, case.body, case.headers, profile=case.profile)
    except Exception as exc:  # noqa: BLE001 - counting what escapes is the point
        report.unhandled += 1
        report.examples.append(f"unhandled {type(exc).__name__}: {exc} after {case.steps}")
        article = None
    elapsed = time.perf_counter() - start
    report.inputs += 1
    report.seconds += elapsed
    if elapsed > report.slowest:
        report.slowest = elapsed
        report.slowest_steps = f"{'+'.join(case.steps)} ({len(case.body)} bytes)"
    failed = errors.count > before or article is None
    if failed and SAVE_DIR is not None:
        SAVE_DIR.mkdir(parents=True, exist_ok=True)
        (SAVE_DIR / f"failure-{report.inputs}.html").write_bytes(case.body)
    if errors.count > before:
        report.internal += 1
        report.examples.append(f"internal error after {case.steps}: {errors.last[-300:]}")
    if article is not None:
        problems = invariant_problems(article)
        if problems:
            report.invariants += 1
            report.examples.append(f"{problems} after {case.steps}")
        report.articles += not missing_fields(article)


def check_cli(case: Case) -> str | None:
    """Run `portal-archive parse` on the input; what went wrong, or None."""
    with tempfile.NamedTemporaryFile(suffix=".html") as handle:
        handle.write(case.body)
        handle.flush()
        command = [sys.executable, "-m", "portal_crawler.cli", "parse", handle.name]
        command += ["--url", case.seed.url]
        if case.headers.get("content-type"):
            command += ["--content-type", case.headers["content-type"]]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    if "Traceback" in done.stderr or done.returncode not in (0, 1):
        return f"exit {done.returncode}: {done.stderr[-500:]}"
    json.loads(done.stdout)
    if done.returncode == 1 and len(done.stderr.strip().splitlines()) != 1:
        return f"expected a one-line error, got {done.stderr!r}"
    return None


def run(n: int, seed: int, dirs: list[Path], *, big: int = 0, cli: int = 0) -> Report:
    rng = random.Random(seed)
    seeds = load_seeds(dirs)
    errors = _Counter()
    logger = logging.getLogger("portal_crawler.parsing")
    logger.addHandler(errors)
    logger.propagate = False  # the counter reports them; no tracebacks on the terminal
    report = Report()
    try:
        for _ in range(n):
            check_case(make_case(rng, seeds), report, errors)
        for _ in range(big):
            check_case(big_case(rng, seeds), report, errors)
        for _ in range(cli):
            case = make_case(rng, seeds)
            problem = check_cli(case)
            report.inputs += 1
            if problem:
                report.unhandled += 1
                report.examples.append(f"CLI after {case.steps}: {problem}")
    finally:
        logger.removeHandler(errors)
        logger.propagate = True
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=1000, help="mutated pages to parse")
    parser.add_argument("snapshots", nargs="*", type=Path, help="snapshot folders (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--big", type=int, default=0, help="also parse K pages of 10-50 MB")
    parser.add_argument("--cli", type=int, default=0, help="also run K inputs through the CLI")
    parser.add_argument("--save", type=Path, help="write failing inputs to this folder")
    args = parser.parse_args(argv)
    global SAVE_DIR
    SAVE_DIR = args.save
    report = run(args.n, args.seed, args.snapshots or DEFAULT_DIRS, big=args.big, cli=args.cli)
    print(f"inputs: {report.inputs} (seed {args.seed})")
    print(f"unhandled exceptions: {report.unhandled}")
    print(f"internal errors caught by the parser's safety net: {report.internal}")
    print(f"broken invariants: {report.invariants}")
    print(f"parsed as articles: {report.articles}")
    print(f"slowest input: {report.slowest:.2f} s, {report.slowest_steps}")
    print(f"parse time: {report.seconds:.1f} s in all")
    for example in report.examples[:20]:
        print("  " + example)
    return 1 if report.unhandled or report.internal or report.invariants else 0


if __name__ == "__main__":
    sys.exit(main())
