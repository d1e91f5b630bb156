"""Killed crawls resume; one crawl per portal at a time; two portals at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess

from archive import Archive
from portal_crawler.cli import EXIT_FATAL
from tests.crawl_helpers import command, crawl, crawl_args, summaries
from tests.helpers import load_gold

TARGET = "Hoạt động địa phương"


def _start(db, portal_id: str, origin: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        command(*crawl_args(db, portal_id, *extra, mirror=origin)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUTF8": "1"},
    )


def _article_paths(requests, already: int) -> list[str]:
    return [path for _, path, _ in requests[already:] if "ChiTiet" in path or "/Article/" in path]


def test_a_crawl_killed_twice_resumes_without_loss_or_duplicates(replay, tmp_path):
    server = replay("mocaynam")
    db = tmp_path / "archive.sqlite"
    gold = {g["url"] for g in load_gold("mocaynam").values() if g["section"] == TARGET}
    no_recheck = ("--recheck-last", "0", "--recheck-days", "0")
    for answered in (4, 9):
        # Answer `answered` requests, then hold the next one and kill -9 the crawler
        # while it waits: a kill at a known point, without sleeping.
        server.hold_after(answered)
        process = _start(db, "mocaynam", server.origin, *no_recheck)
        assert server.wait_for_requests(answered + 1, timeout=60)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        server.release()
        with sqlite3.connect(db) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    with Archive.open(db) as archive:
        stored_before = {a["url"] for a in archive.iter_articles("mocaynam")}
        pending = {url for url, _ in archive.frontier_pending("mocaynam")}
    assert pending, "the killed runs left no frontier to resume from"
    already = len(server.requests)
    run = summaries(crawl(db, "mocaynam", *no_recheck, mirror=server.origin))[0]
    assert run["status"] == "finished" and run["resumed"] >= 1

    with Archive.open(db) as archive:
        stored = [a["url"] for a in archive.iter_articles("mocaynam")]
        runs = archive.runs("mocaynam")
        assert archive.frontier_pending("mocaynam") == []
    assert sorted(stored) == sorted(gold)  # every article, each exactly once
    assert [r["status"] for r in runs].count("interrupted") == 2
    # The resumed run fetched no article that was already archived.
    refetched = [
        path
        for path in _article_paths(server.requests, already)
        if any(url.endswith(path) for url in stored_before)
    ]
    assert refetched == []


def test_second_crawl_of_the_same_portal_is_refused_while_the_first_runs(replay, tmp_path):
    server = replay("anbien")
    db = tmp_path / "archive.sqlite"
    server.hold_after(3)
    first = _start(db, "anbien", server.origin)
    try:
        assert server.wait_for_requests(4, timeout=60)
        second = crawl(db, "anbien", mirror=server.origin, check=False)
        assert second.returncode == 75, second.stderr[-2000:]
        refused = summaries(second)[0]
        assert refused["status"] == "refused"
        assert "anbien" in refused["message"] and str(first.pid) in refused["message"]
    finally:
        server.release()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err[-2000:]
    assert summaries(subprocess.CompletedProcess([], 0, out, err))[0]["new"] == 8


def test_two_portals_crawl_one_archive_at_once(replay, tmp_path):
    db = tmp_path / "archive.sqlite"
    one, two = replay("trieuson"), replay("hailang")
    first = _start(db, "trieuson", one.origin)
    second = _start(db, "hailang", two.origin)
    for process in (first, second):
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err[-2000:]
    with Archive.open(db) as archive:
        for portal_id in ("trieuson", "hailang"):
            gold = {g["url"] for g in load_gold(portal_id).values() if g["section"] == TARGET}
            assert {a["url"] for a in archive.iter_articles(portal_id)} == gold


def test_a_crawl_stopped_by_sigterm_is_recorded_interrupted_and_resumes(replay, tmp_path):
    server = replay("mocaynam")
    db = tmp_path / "archive.sqlite"
    gold = {g["url"] for g in load_gold("mocaynam").values() if g["section"] == TARGET}
    server.hold_after(6)
    process = _start(db, "mocaynam", server.origin, "--log-level", "INFO")
    try:
        assert server.wait_for_requests(7, timeout=60)
        process.send_signal(signal.SIGTERM)
        # Let the held answer go only once Scrapy has begun its graceful stop.
        assert process.stderr is not None
        for line in process.stderr:
            if "Received SIGTERM" in line:
                break
        else:
            raise AssertionError("the crawler never acknowledged SIGTERM")
    finally:
        server.release()
    out, _ = process.communicate(timeout=120)
    assert process.returncode == EXIT_FATAL  # a cron job must not read it as a success
    stopped = summaries(subprocess.CompletedProcess([], EXIT_FATAL, out, ""))[0]
    assert stopped["status"] == "interrupted" and "SIGTERM" in stopped["message"]
    with Archive.open(db) as archive:
        assert archive.runs("mocaynam")[0]["status"] == "interrupted"
        assert len(list(archive.iter_articles("mocaynam"))) < len(gold)

    run = summaries(crawl(db, "mocaynam", mirror=server.origin))[0]
    assert run["status"] == "finished"
    with Archive.open(db) as archive:
        assert sorted(a["url"] for a in archive.iter_articles("mocaynam")) == sorted(gold)
