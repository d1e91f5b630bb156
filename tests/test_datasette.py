"""Datasette, as a real server process, on a crawled archive with our metadata."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive import Archive
from tests.crawl_helpers import crawl, portal_archive

pytest.importorskip("datasette")

STARTUP_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(origin, db): Datasette serving a crawl of two snapshots on a free port."""
    from portal_crawler.replay import ReplayServer
    from tests.helpers import FIXTURES_DIR

    folder = tmp_path_factory.mktemp("datasette")
    db = folder / "archive.sqlite"
    for portal_id in ("anbien", "hailang"):
        with ReplayServer(FIXTURES_DIR / portal_id) as server:
            crawl(db, portal_id, mirror=server.origin)
    metadata = folder / "metadata.json"
    portal_archive("datasette-metadata", "--db", str(db), "-o", str(metadata))

    # Port 0: Datasette binds a free port and names it on stderr.
    process = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(db), "-m", str(metadata)]
        + ["--host", "127.0.0.1", "-p", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    origin, seen = None, []
    try:
        while origin is None:
            line = lines.get(timeout=STARTUP_TIMEOUT)
            if line is None:
                raise AssertionError("datasette exited:\n" + "".join(seen))
            seen.append(line)
            found = re.search(r"running on (http://127\.0\.0\.1:\d+)", line)
            origin = found.group(1) if found else None
        yield origin, db
    finally:
        process.terminate()
        process.wait(timeout=30)


def get_json(origin: str, path: str, **params: str) -> Any:
    url = f"{origin}{path}?{urllib.parse.urlencode({**params, '_shape': 'array'})}"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())


def archive_ids(db: Path, query: str) -> set[int]:
    with Archive.open(db) as archive:
        return {hit["id"] for hit in archive.search(query, limit=1000)}


def test_table_search_finds_what_the_archive_search_finds(served: tuple[str, Path]) -> None:
    origin, db = served
    for query in ("dan van kheo", "Dân vận khéo", "khai mạc kỳ họp", "covid"):
        rows = get_json(origin, "/archive/articles.json", _search=query)
        assert rows, query
        assert {row["id"] for row in rows} == archive_ids(db, query), query


def test_canned_search_query_folds_d_with_stroke(served: tuple[str, Path]) -> None:
    origin, db = served
    for query in ("Đại đoàn kết", "dai doan ket", "Nguyễn Đăng", "HĐND huyện"):
        rows = get_json(origin, "/archive/search.json", q=query)
        assert rows, query
        assert {row["id"] for row in rows} == archive_ids(db, query), query
        assert set(rows[0]) >= {"id", "portal_id", "published", "title", "url"}
    # Quotes and FTS5 syntax in the box are words, not syntax.
    assert get_json(origin, "/archive/search.json", q='NEAR(" OR *') == []


def test_views_and_metadata_are_served(served: tuple[str, Path]) -> None:
    origin, _ = served
    current = get_json(origin, "/archive/current_articles.json", _search="covid")
    assert current and all("portal_name" in row for row in current)
    months = get_json(origin, "/archive/articles_by_month.json")
    assert {row["portal_id"] for row in months} == {"anbien", "hailang"}
    assert sum(row["articles"] for row in months) == sum(
        1 for _ in get_json(origin, "/archive/articles.json", _size="max")
    )
    with urllib.request.urlopen(f"{origin}/-/metadata.json", timeout=30) as response:  # noqa: S310
        metadata = json.loads(response.read())
    articles = metadata["databases"]["archive"]["tables"]["articles"]
    assert articles["fts_table"] == "articles_fts" and articles["description"]


def test_canned_search_ranks_within_the_window_as_the_archive_does(
    served: tuple[str, Path],
) -> None:
    import sqlite3

    from archive.datasette import metadata
    from archive.search import RANK_WINDOW

    _, db = served
    sql = metadata(db)["databases"]["archive"]["queries"]["search"]["sql"]
    assert f"offset {RANK_WINDOW}" in sql
    with Archive.open(db) as archive:
        want = [hit["id"] for hit in archive.search("huyen", limit=100, rank_window=7)]
    # The same query with a window small enough for this archive to overflow it.
    with sqlite3.connect(db) as conn:
        got = [row[0] for row in conn.execute(sql.replace(f"{RANK_WINDOW}", "7"), {"q": "huyen"})]
    assert got == want and len(got) == 7
