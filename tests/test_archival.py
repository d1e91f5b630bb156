"""Archival fidelity: WARC capture, media store, offline re-parse, WARC import."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from archive import Archive
from archive.media import article_media, image_size, sniff_mime
from archive.warcs import iter_responses, read_response
from portal_crawler.replay import ReplayServer
from tests.crawl_helpers import crawl, portal_archive, summaries
from tests.foreign_warc import write_revisit_warc, write_snapshot_warc
from tests.helpers import FIXTURES_DIR, SNAPSHOT_IDS, load_gold, load_site

PORTAL = "anbien"
GOLD_KEYS = (
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


def _warcio(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "warcio.cli", *args], capture_output=True, text=True, timeout=120
    )


def _index(files: list[Path]) -> list[dict]:
    result = _warcio("index", "-f", "warc-type,warc-target-uri,http:status", *map(str, files))
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _snapshot(db: Path) -> dict[str, dict]:
    with Archive.open(db) as archive:
        return {a["url"]: a for a in archive.iter_articles()}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """One crawl of the An Biên snapshot; the replay server is stopped afterwards."""
    root = tmp_path_factory.mktemp("archival")
    db = root / "archive.sqlite"
    with ReplayServer(FIXTURES_DIR / PORTAL) as server:
        run = summaries(crawl(db, PORTAL, mirror=server.origin))[0]
        requests = list(server.requests)
    return {"db": db, "root": root, "run": run, "requests": requests}


def test_warc_lists_every_response_the_crawl_received_and_passes_check(crawled):
    root = crawled["root"]
    files = sorted((root / "warc" / PORTAL).glob("*.warc.gz"))
    assert files, "no WARC file written"
    check = _warcio("check", *map(str, files))
    assert check.returncode == 0, check.stdout + check.stderr

    records = _index(files)
    assert records[0]["warc-type"] == "warcinfo"
    responses = [r for r in records if r["warc-type"] in ("response", "revisit")]
    base = load_site(PORTAL)["base_url"]
    # Every request the server answered is a response (or revisit) record, by its
    # live URL: robots.txt, listing pages and their postbacks, articles, the 503
    # and its retry, the 404, images and the PDF.
    assert Counter(r["warc-target-uri"] for r in responses) == Counter(
        base + path for _, path, _ in crawled["requests"]
    )
    assert len(responses) == crawled["run"]["requests"] == crawled["run"]["warc_records"]
    requests = [r for r in records if r["warc-type"] == "request"]
    assert len(requests) == len(responses)
    statuses = Counter(r["http:status"] for r in responses)
    assert statuses["503"] == 1 and statuses["404"] == 1
    # The same photo served at several URLs is kept once, then revisited.
    assert any(r["warc-type"] == "revisit" for r in responses)


def test_warcinfo_names_tool_version_and_portal(crawled):
    path = next((crawled["root"] / "warc" / PORTAL).glob("*.warc.gz"))
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as stream:
        record = next(iter(ArchiveIterator(stream)))
        info = record.content_stream().read().decode()
    assert record.rec_headers.get_header("WARC-Type") == "warcinfo"
    assert record.rec_headers.protocol == "WARC/1.1"
    assert "software: portal-archive/" in info and f"portal: {PORTAL}" in info


def test_each_capture_points_at_its_warc_record(crawled):
    db, root = crawled["db"], crawled["root"]
    with Archive.open(db) as archive:
        articles = list(archive.iter_articles(PORTAL))
        connection = sqlite3.connect(db)
        rows = connection.execute(
            "SELECT c.id, c.url, c.warc_file, c.warc_offset FROM captures c"
        ).fetchall()
        for capture_id, url, warc_file, offset in rows:
            assert warc_file and offset is not None, capture_id
            record = read_response(root / warc_file, offset)
            assert record.target_uri == url and record.status == 200
            captured = next(
                c
                for a in articles
                for c in archive.captures(_article_id(connection, a["url"]))
                if c["id"] == capture_id
            )
            assert record.body == captured["body"]
    assert len(rows) == len(articles)


def _article_id(connection: sqlite3.Connection, url: str) -> int:
    return connection.execute("SELECT id FROM articles WHERE url = ?", (url,)).fetchone()[0]


def test_images_and_the_pdf_are_stored_once_hashed_and_linked(crawled):
    db, root = crawled["db"], crawled["root"]
    gold = {g["url"]: g for g in load_gold(PORTAL).values()}
    linked: dict[str, set[str]] = {}
    connection = sqlite3.connect(db)
    with Archive.open(db) as archive:
        for article in archive.iter_articles(PORTAL):
            media = article_media(archive, _article_id(connection, article["url"]))
            expected = [("image", i["src"]) for i in gold[article["url"]]["images"]] + [
                ("attachment", a["url"]) for a in gold[article["url"]]["attachments"]
            ]
            assert [(m["kind"], m["url"]) for m in media] == expected
            for item in media:
                assert item["sha256"], item  # every image and attachment has its file
                linked.setdefault(item["sha256"], set()).add(item["url"])
    files = sorted(p for p in (root / "media").rglob("*") if p.is_file())
    # Once each: one file per distinct content, named by its SHA-256 at media/ab/cd/.
    assert {p.name for p in files} == set(linked)
    for path in files:
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == path.name
        assert path.relative_to(root / "media").parts[:2] == (path.name[:2], path.name[2:4])
    # The snapshot serves the same three photos under several URLs, and one PDF.
    assert any(len(urls) > 1 for urls in linked.values())
    pdf = (FIXTURES_DIR / PORTAL / "pages/static/kh-87-kh-ubnd.pdf").read_bytes()
    row = connection.execute(
        "SELECT mime_type, size, width FROM media WHERE sha256 = ?",
        (hashlib.sha256(pdf).hexdigest(),),
    ).fetchone()
    assert row == ("application/pdf", len(pdf), None)
    photo = (FIXTURES_DIR / PORTAL / "pages/static/img/photo-a.jpg").read_bytes()
    row = connection.execute(
        "SELECT mime_type, size, width, height FROM media WHERE sha256 = ?",
        (hashlib.sha256(photo).hexdigest(),),
    ).fetchone()
    assert row[:2] == ("image/jpeg", len(photo))
    pil = pytest.importorskip("PIL.Image")
    from io import BytesIO

    assert row[2:] == pil.open(BytesIO(photo)).size


def test_reparse_offline_reproduces_every_field(crawled, tmp_path):
    db = tmp_path / "copy.sqlite"
    with sqlite3.connect(crawled["db"]) as source, sqlite3.connect(db) as target:
        source.backup(target)
    before = _snapshot(db)
    # The replay server is gone: any network access would fail.
    result = portal_archive("reparse", "--db", str(db), "--json")
    report = json.loads(result.stdout)
    assert report["checked"] == len(before) and report["changed"] == 0
    assert report["failed"] == 0
    after = _snapshot(db)
    assert after == before
    assert all(a["revision"] == 1 for a in after.values())


def test_reparse_records_a_better_parser_as_reparse_not_edit(crawled, tmp_path):
    db = tmp_path / "copy.sqlite"
    with sqlite3.connect(crawled["db"]) as source, sqlite3.connect(db) as target:
        source.backup(target)
    gold = next(g for g in load_gold(PORTAL).values() if g["images"])
    # What an older parser might have stored: a wrong title, no captions.
    with sqlite3.connect(db) as connection:
        connection.execute(
            "UPDATE articles SET title = 'Chi tiết tin tức' WHERE url = ?", (gold["url"],)
        )
        connection.execute(
            "UPDATE images SET caption = NULL WHERE article_id = "
            "(SELECT id FROM articles WHERE url = ?)",
            (gold["url"],),
        )
    report = json.loads(portal_archive("reparse", "--db", str(db), "--json").stdout)
    assert report["changed_urls"] == [gold["url"]]
    with Archive.open(db) as archive:
        history = archive.history(gold["url"])
        article = next(a for a in archive.iter_articles(PORTAL) if a["url"] == gold["url"])
        media = article_media(archive, _article_id(sqlite3.connect(db), gold["url"]))
    assert [r["reason"] for r in history] == ["new", "reparse"]
    assert history[-1]["parser_version"] == report["parser_version"]
    assert {k: article[k] for k in GOLD_KEYS} == gold
    assert all(m["sha256"] for m in media)  # the rebuilt rows are linked again
    text = portal_archive("history", gold["url"], "--db", str(db)).stdout
    assert "re-parsed" in text


def test_second_crawl_writes_revisits_and_fetches_no_media_again(replay, tmp_path):
    server = replay(PORTAL)
    db = tmp_path / "archive.sqlite"
    crawl(db, PORTAL, mirror=server.origin)
    first_files = set((tmp_path / "warc" / PORTAL).glob("*.warc.gz"))
    second = summaries(crawl(db, PORTAL, "--full", mirror=server.origin))[0]
    assert second["media_requests"] == 0
    new_files = sorted(set((tmp_path / "warc" / PORTAL).glob("*.warc.gz")) - first_files)
    assert len(new_files) == 1
    assert _warcio("check", str(new_files[0])).returncode == 0
    records = [r for r in iter_responses(new_files[0])]
    # Every payload the first run stored comes back as a revisit, not a copy.
    with_payload = [r for r in records if r.payload_digest and r.status == 200]
    assert with_payload and all(r.record_type == "revisit" for r in with_payload)
    assert len(records) == second["requests"]


@pytest.mark.parametrize("portal_id", SNAPSHOT_IDS)
def test_import_of_a_foreign_warc_equals_gold(portal_id, tmp_path):
    warc = write_snapshot_warc(FIXTURES_DIR / portal_id, tmp_path / "other-tool.warc.gz")
    db = tmp_path / "imported.sqlite"
    portal_archive("import-warc", str(warc), "--portal", portal_id, "--db", str(db))
    gold = {g["url"]: g for g in load_gold(portal_id).values()}
    with Archive.open(db) as archive:
        stored = {a["url"]: {k: a[k] for k in GOLD_KEYS} for a in archive.iter_articles()}
        runs = archive.runs(portal_id)
    assert stored == gold
    assert runs[0]["status"] == "finished" and runs[0]["args"]["import_warc"]
    connection = sqlite3.connect(db)
    # Captures point into the foreign WARC; the files found there are stored.
    for body_path, offset in connection.execute("SELECT warc_file, warc_offset FROM captures"):
        assert Path(body_path) == warc.resolve() and offset >= 0
    pdfs = [a["url"] for g in gold.values() for a in g["attachments"]]
    linked = connection.execute(
        "SELECT count(*) FROM attachments WHERE media_sha256 IS NOT NULL"
    ).fetchone()[0]
    assert linked == len(pdfs)


def test_revisits_take_their_payload_from_an_earlier_file(tmp_path):
    first = write_snapshot_warc(FIXTURES_DIR / PORTAL, tmp_path / "first.warc.gz")
    later = write_revisit_warc(first, tmp_path / "later.warc.gz")
    gold = {g["url"]: g for g in load_gold(PORTAL).values()}

    # Alone, the later file holds no payload: every article is a clear failure.
    alone = tmp_path / "alone.sqlite"
    result = portal_archive(
        "import-warc", str(later), "--portal", PORTAL, "--db", str(alone), "--json", check=False
    )
    assert result.returncode == 1
    with Archive.open(alone) as archive:
        assert archive.count_articles() == 0

    # With the earlier file first, the revisits resolve across files.
    db = tmp_path / "both.sqlite"
    portal_archive("import-warc", str(first), str(later), "--portal", PORTAL, "--db", str(db))
    with Archive.open(db) as archive:
        stored = {a["url"]: {k: a[k] for k in GOLD_KEYS} for a in archive.iter_articles()}
        runs = archive.runs(PORTAL)
    assert stored == gold
    assert runs[0]["args"]["import_warc"] == [str(first.resolve()), str(later.resolve())]
    # Captures point at the bytes: the original responses in the first file.
    connection = sqlite3.connect(db)
    files = {row[0] for row in connection.execute("SELECT warc_file FROM captures")}
    assert files == {str(first.resolve())}


def test_image_sizes_are_read_from_headers():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", 640, 480) + b"\0" * 8
    gif = b"GIF89a" + struct.pack("<HH", 32, 16) + b"\0" * 8
    jpeg = (
        b"\xff\xd8\xff\xe0\x00\x04\x00\x00"  # APP0 with a 2-byte payload
        + b"\xff\xc0\x00\x11\x08"
        + struct.pack(">HH", 300, 400)  # height, width
        + b"\0" * 12
    )
    assert image_size(png) == (640, 480) and sniff_mime(png) == "image/png"
    assert image_size(gif) == (32, 16) and sniff_mime(gif) == "image/gif"
    assert image_size(jpeg) == (400, 300) and sniff_mime(jpeg) == "image/jpeg"
    assert image_size(b"%PDF-1.4 ...") is None and sniff_mime(b"%PDF-1.4") == "application/pdf"
