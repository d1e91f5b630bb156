"""Durability: a full disk, a read-only archive, an archive from a newer version."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from archive import Archive
from tests.crawl_helpers import command, crawl, crawl_args, portal_archive, summaries
from tests.helpers import load_gold

TARGET = "Hoạt động địa phương"


@pytest.fixture
def small_disk(tmp_path):
    """A tiny tmpfs of our own (needs root, as in CI); skipped where mounting is refused."""
    mounts: list[Path] = []

    def make(size: str) -> Path:
        folder = tmp_path / f"disk{len(mounts)}"
        folder.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
        mounts.append(folder)
        return folder

    yield make
    for folder in mounts:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_full_disk_stops_the_crawl_with_a_clear_error(replay, small_disk):
    disk = small_disk("160k")
    db = disk / "archive.sqlite"
    result = crawl(db, "anbien", mirror=replay("anbien").origin, check=False)
    assert result.returncode == 4, result.stdout + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    run = summaries(result)[0]
    assert run["status"] == "failed"
    assert "full" in run["message"], run["message"]
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_read_only_archive_is_a_clear_error(replay, small_disk):
    disk = small_disk("4m")
    db = disk / "archive.sqlite"
    server = replay("tanthanh")
    crawl(db, "tanthanh", mirror=server.origin)
    with Archive.open(db) as archive:
        before = archive.count_articles()
    remount = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True)
    if remount.returncode != 0:
        pytest.skip("cannot remount read-only here")
    result = crawl(db, "tanthanh", "--full", mirror=server.origin, check=False)
    assert result.returncode == 4, result.stdout + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "archive" in summaries(result)[0]["message"]
    subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
    with Archive.open(db) as archive:
        assert archive.count_articles() == before


def test_an_archive_from_a_newer_version_is_refused_untouched(tmp_path):
    db = tmp_path / "archive.sqlite"
    Archive.open(db).close()
    with sqlite3.connect(db) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]
        assert "meta" in tables
        connection.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = db.read_bytes()
    result = portal_archive("export", "--db", str(db), check=False)
    assert result.returncode == 4
    assert "Traceback" not in result.stderr and "999" in result.stderr
    assert db.read_bytes() == before


def test_killed_during_a_database_write_leaves_no_half_stored_article(replay, tmp_path):
    import os

    server = replay("mocaynam")
    db = tmp_path / "archive.sqlite"
    gold = {g["url"]: g for g in load_gold("mocaynam").values() if g["section"] == TARGET}
    stored_at_kill = []
    for flushes in (7, 15):
        # SIGKILL right after a flush: rows written into an open transaction.
        args = crawl_args(db, "mocaynam", mirror=server.origin)
        result = subprocess.run(
            command(*args),
            capture_output=True,
            text=True,
            env={**os.environ, "PORTAL_FAILPOINT": f"kill-after-flush:{flushes}"},
            timeout=120,
        )
        assert result.returncode == -9, result.stderr[-2000:]
        with sqlite3.connect(db) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        with Archive.open(db) as archive:
            articles = list(archive.iter_articles("mocaynam"))
            stored_at_kill.append(len(articles))
            for article in articles:
                # Whatever was committed is whole: every field, every image row.
                assert {k: article[k] for k in gold[article["url"]]} == gold[article["url"]]
    assert stored_at_kill[-1] >= 1  # the second kill came after articles were committed
    crawl(db, "mocaynam", mirror=server.origin)
    with Archive.open(db) as archive:
        assert sorted(a["url"] for a in archive.iter_articles("mocaynam")) == sorted(gold)


def test_a_full_disk_under_the_warc_files_stops_the_crawl_cleanly(replay, small_disk, tmp_path):
    warcs = small_disk("64k")
    db = tmp_path / "archive.sqlite"
    result = crawl(
        db,
        "hailang",
        "-s",
        f"PORTAL_WARC_DIR={warcs}",
        mirror=replay("hailang").origin,
        check=False,
    )
    assert result.returncode == 4, result.stdout + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "cannot write the WARC capture" in summaries(result)[0]["message"]
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
