"""The PostgreSQL archive: the same crawls, searches and exports as SQLite, and many writers.

Runs against a real PostgreSQL server (the `pg_url` / `pg_server_url` fixtures). The
crawled archives come from real crawls of the snapshots over HTTP, one into SQLite
and one into PostgreSQL, side by side. The writer processes import this module: the
crawler's modules are imported where they are used, not here.
"""

from __future__ import annotations

import contextlib
import copy
import json
import multiprocessing
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from archive import (
    GOLD_KEYS,
    Archive,
    ArchiveError,
    ExportFilter,
    LockHeld,
    QueryError,
    iter_records,
)
from archive.models import (
    ArticleEvent,
    ArticleRevision,
    ArticleUrl,
    Capture,
    CrawlRun,
    FetchFailure,
    FrontierEntry,
    Image,
    MediaFile,
    MediaUrl,
    WarcRecord,
)
from archive.reparse import apply_reparse, reparse_sources
from tests import servers
from tests.crawl_helpers import FAST_SETTINGS, portal_archive
from tests.helpers import FIXTURES_DIR, SNAPSHOT_IDS, load_gold, load_site

TARGET = "Hoạt động địa phương"
TIMES = ("first_seen_at", "last_seen_at", "observed_at", "removed_at")

# Every portal crawled concurrently in one process, each from its own replay server.
_CRAWL = """
import json, os, sys
from scrapy.crawler import CrawlerProcess
from scrapy.utils.project import get_project_settings

os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "portal_crawler.settings")
db, jobs, overrides = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
settings = get_project_settings()
settings.set("LOG_LEVEL", "ERROR")
settings.set("PORTAL_ARCHIVE_DB", db)
for pair in overrides:
    settings.set(*pair.split("=", 1))
process = CrawlerProcess(settings)
crawlers = []
for portal, mirror in jobs:
    crawler = process.create_crawler("portal")
    crawlers.append((portal, crawler))
    process.crawl(crawler, portal=portal, mirror=mirror)
process.start()
print(json.dumps({p: getattr(c, "portal_run_summary", None) for p, c in crawlers}))
"""


def _start_crawl(db: str, jobs: list[tuple[str, str]], data_dir: Path) -> subprocess.Popen[str]:
    # WARC and media files of a PostgreSQL archive go to the default archive's folder.
    env = {**os.environ, "PYTHONUTF8": "1", "PORTAL_ARCHIVE_DB": str(data_dir / "unused.sqlite")}
    args = [sys.executable, "-c", _CRAWL, db, json.dumps(jobs), json.dumps(FAST_SETTINGS)]
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-4000:]
    summaries = json.loads(out.strip().splitlines()[-1])
    assert all(s and s["status"] == "finished" for s in summaries.values()), summaries
    return summaries


@pytest.fixture(scope="module")
def crawled(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Archive, Archive, dict[str, dict[str, Any]], set[str]]]:
    """(SQLite archive, PostgreSQL archive, gold, removed URLs) after two crawls of each.

    The five snapshots are crawled into each archive, then crawled again in their
    later state (new, edited and removed articles). Gold is the later state's, by URL.
    """
    from portal_crawler.replay import ReplayServer

    work = tmp_path_factory.mktemp("pg-crawl")
    pg = servers.new_pg_database(pg_server_url, "t_postgres_crawled")
    targets = ((str(work / "archive.sqlite"), work / "lite"), (pg, work / "pg"))
    with contextlib.ExitStack() as stack:
        # Both archives at once, each from its own replay servers (a replay fails some
        # pages once, to be retried: shared, only the first crawl would meet that).
        replays = [
            [stack.enter_context(ReplayServer(FIXTURES_DIR / p)) for p in SNAPSHOT_IDS]
            for _ in targets
        ]
        for state in ("first", "later"):
            running = []
            for (db, data_dir), servers_ in zip(targets, replays, strict=True):
                if state == "later":
                    for server in servers_:
                        server.switch_state("later")
                jobs = [(p, s.origin) for p, s in zip(SNAPSHOT_IDS, servers_, strict=True)]
                running.append(_start_crawl(db, jobs, data_dir))
            for process in running:
                _finish(process)
    gold: dict[str, dict[str, Any]] = {}
    removed: set[str] = set()
    for p in SNAPSHOT_IDS:
        gone = set(load_site(p)["later"]["removed"])
        first = load_gold(p)
        removed |= {
            g["url"] for slug, g in first.items() if slug in gone and g["section"] == TARGET
        }
        gold |= {g["url"]: g for g in load_gold(p, later=True).values() if g["section"] == TARGET}
    with Archive.open(work / "archive.sqlite") as lite, Archive.open(pg) as post:
        yield lite, post, gold, removed


def _normalised(records: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without the times of the crawl, in URL order."""
    found = [{**r, **{k: bool(r[k]) for k in TIMES}} for r in records]
    return sorted(found, key=lambda r: (r["url"], r["revision"]))


def _counts(archive: Archive) -> dict[str, int]:
    tables = (
        ArticleUrl,
        ArticleRevision,
        ArticleEvent,
        Capture,
        Image,
        FetchFailure,
        FrontierEntry,
        WarcRecord,
        MediaFile,
        MediaUrl,
    )
    with archive._read() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in tables
        }


# --- (1) the same crawl, the same archive -------------------------------------------


def test_crawls_into_postgresql_store_what_sqlite_stores(crawled) -> None:
    lite, post, gold, removed = crawled
    exported = _normalised(post.iter_articles())
    assert exported == _normalised(lite.iter_articles())
    served = {r["url"]: {k: r[k] for k in GOLD_KEYS} for r in exported if not r["removed_at"]}
    assert served == {url: {k: g[k] for k in GOLD_KEYS} for url, g in gold.items()}
    assert {r["url"] for r in exported if r["removed_at"]} == removed
    edited = {r["url"] for r in exported if r["revision"] == 2}
    assert len(edited) == len(SNAPSHOT_IDS)  # one edit in each later state
    assert _normalised(post.iter_articles(include_revisions=True)) == _normalised(
        lite.iter_articles(include_revisions=True)
    )
    # Revisions, events, captures, WARC records, media files: the same rows.
    counts = _counts(post)
    assert counts == _counts(lite)
    assert counts["article_revisions"] == len(exported) + len(edited)
    assert counts["article_events"] == len(removed)
    assert counts["warc_records"] and counts["media"] and counts["frontier"] == 0

    def runs(archive: Archive) -> list[tuple[Any, ...]]:
        keep = ("portal", "status", "new", "changed", "unchanged", "removed", "failed")
        return sorted(tuple(run[k] for k in keep) for run in archive.runs())

    def failures(archive: Archive) -> list[tuple[Any, ...]]:
        keep = ("portal", "url", "reason", "http_status")
        return sorted(tuple(f[k] for k in keep) for f in archive.failures())

    assert runs(post) == runs(lite) and len(runs(post)) == 2 * len(SNAPSHOT_IDS)
    assert failures(post) == failures(lite)

    def history(archive: Archive, url: str) -> list[dict[str, Any]]:
        local = ("observed_at", "capture_id", "run_id")  # times and ids of each crawl
        found = [{k: v for k, v in r.items() if k not in local} for r in archive.history(url)]
        for revision in found:
            revision["events"] = [(e["kind"], e["http_status"]) for e in revision["events"]]
        return found

    for url in [*gold, *removed]:
        assert history(post, url) == history(lite, url)
    assert post.lock_holder(SNAPSHOT_IDS[0]) is None


def test_stats_are_the_same(crawled) -> None:
    lite, post, gold, removed = crawled

    def timeless(stats: dict[str, Any]) -> dict[str, Any]:
        for portal in stats["portals"]:
            portal["last_run"] = portal["last_run"]["status"]
        return stats

    stats = timeless(post.stats())
    assert stats == timeless(lite.stats())
    assert stats["totals"]["articles"] == len(gold) + len(removed)


# --- (2) search: the same articles for the same words --------------------------------

QUERIES = [
    "dan van kheo",
    "Dân vận khéo",
    "DÂN VẬN KHÉO",
    '"dân vận khéo"',
    '"khéo vận dân"',
    "Đại đoàn kết",
    "dai doan ket",
    "đại Đoàn kết",
    "duc",
    "Đức",
    "dang uy",
    "HĐND huyện",
    "hdnd",
    "Nguyễn Đình",
    "kheo*",
    "nguy*",
    '"dai doan"*',
    "chuyển đổi s*",
    "covid OR dịch",
    'covid OR "hạn hán"',
    '"hạn hán" -covid',
    '"hạn hán" NOT "mỏ cày"',
    'title:"covid 19"',
    "title:covid",
    "title:xã -body:covid",
    "lead:xã",
    "captions:đồng",
    "body:nông*",
    "covid-19",
    "2021",
    "không có từ này xyzzy",
]


def _hits(archive: Archive, query: str, **filters: Any) -> dict[str, tuple[Any, ...]]:
    return {
        hit["url"]: (hit["portal"], hit["title"], hit["snippet_field"], hit["snippet"])
        for hit in archive.search(query, limit=1000, **filters)
    }


@pytest.mark.parametrize("query", QUERIES)
def test_search_finds_the_same_articles_with_the_same_snippets(crawled, query: str) -> None:
    lite, post, *_ = crawled
    assert _hits(post, query) == _hits(lite, query)


def test_search_parity_is_not_vacuous_and_filters_agree(crawled) -> None:
    lite, post, *_ = crawled
    found = [len(_hits(post, q)) for q in QUERIES]
    assert sum(1 for n in found if n) >= len(QUERIES) - 2, found
    for filters in (
        {"portal_id": "hailang"},
        {"since": "2021-10-01", "until": "2022-12-31"},
        {"section": TARGET},
    ):
        assert _hits(post, "covid", **filters) == _hits(lite, "covid", **filters)
    # Best first on both: a title match outranks a body match.
    hits = post.search("dan van kheo", limit=100)
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True) and "Dân vận khéo" in hits[0]["title"]


def test_the_rank_window_ranks_the_newest_matches_as_on_sqlite(crawled) -> None:
    # The back ends number articles in their own order, so each is checked against its
    # own full ranking.
    for archive in crawled[:2]:
        every = archive.search("huyen", limit=1000, rank_window=None)
        newest = sorted((h["id"] for h in every), reverse=True)[:10]
        got = archive.search("huyen", limit=4, rank_window=10)
        assert got.windowed and not every.windowed
        assert [h["url"] for h in got] == [h["url"] for h in every if h["id"] in newest][:4]


def test_odd_and_hostile_queries_behave_alike(crawled) -> None:
    from tests.test_search import HOSTILE

    lite, post, *_ = crawled

    def outcome(archive: Archive, query: str) -> Any:
        try:
            return _hits(archive, query)
        except QueryError as exc:
            return str(exc)

    # A stray accent folds to no word at all; a word longer than PostgreSQL's lexemes.
    odd = ["\u0301\u0300", "covid \u0301", "covid OR \u0301", '"covid \u0301 19"', "漢" * 900]
    for query in [*HOSTILE, *odd]:
        assert outcome(post, query) == outcome(lite, query), repr(query)


@pytest.mark.parametrize("query", ['"dân vận khéo"', "covid OR dịch -title:covid", "duc"])
def test_export_with_a_query_is_the_same(crawled, query: str) -> None:
    lite, post, *_ = crawled
    picked = _normalised(iter_records(post, _filter(query)))
    assert picked and picked == _normalised(iter_records(lite, _filter(query)))


def _filter(query: str) -> ExportFilter:
    return ExportFilter(query=query)


# --- (5) the command line on a PostgreSQL URL ---------------------------------------


def test_the_commands_take_a_postgresql_url(crawled, tmp_path: Path) -> None:
    lite, post, gold, removed = crawled
    db = post.engine.url.render_as_string(hide_password=False)
    hits = json.loads(portal_archive("search", '"dân vận khéo"', "--db", db, "--json").stdout)
    assert {h["url"] for h in hits} == set(_hits(lite, '"dân vận khéo"'))
    out = tmp_path / "export.jsonl"
    portal_archive("export", "--db", db, "--query", "covid", "-o", str(out))
    with open(out, encoding="utf-8") as lines:
        exported = [json.loads(line) for line in lines]
    assert _normalised(iter(exported)) == _normalised(iter_records(lite, _filter("covid")))
    stats = json.loads(portal_archive("stats", "--db", db, "--json").stdout)
    assert stats["totals"]["articles"] == len(gold) + len(removed)
    runs = json.loads(portal_archive("runs", "--db", db, "--json").stdout)
    assert {run["portal"] for run in runs} == set(SNAPSHOT_IDS)
    # A plain postgresql:// URL works too (the archive picks its driver).
    with Archive.open(db.replace("postgresql+psycopg://", "postgresql://")) as plain:
        assert plain.count_articles() == len(gold) + len(removed)


# --- the index follows every write ---------------------------------------------------

BASE = "https://p.example.gov.vn"
ARTICLE = {
    "url": f"{BASE}/1",
    "section": "Tin",
    "title": "Ông Nguyễn Đức Anh thăm xã",
    "published": "2020-08-03T10:40:00+07:00",
    "lead": "Sáng nay, đoàn công tác làm việc tại Đồng Tháp.",
    "body": ["Đường giao thông nông thôn được nâng cấp.", "Đoạn hai."],
    "images": [{"src": f"{BASE}/a.jpg", "caption": "Quang cảnh Đồng Tháp"}],
    "credit": None,
    "attachments": [],
}


def _store(archive: Archive, article: dict[str, Any], body: bytes = b"x", **more: Any) -> Any:
    return archive.store_article(
        "p",
        article,
        fetched_url=more.pop("fetched_url", article["url"]),
        raw_body=body,
        http_status=200,
        headers={},
        run_id=more.pop("run_id", None),
        parser_version="t",
        **more,
    )


def _urls(hits: list[dict[str, Any]]) -> set[str]:
    return {hit["url"] for hit in hits}


def test_the_postgresql_index_follows_edits_reparses_and_rebuilds(pg_url: str) -> None:
    with Archive.open(pg_url) as archive:
        archive.upsert_portal("p", "Portal", BASE)
        _store(archive, ARTICLE)
        for query in ("nguyen duc anh", "dong thap", "duong giao thong", "captions:quang"):
            assert _urls(archive.search(query)) == {ARTICLE["url"]}, query
        # A phrase does not run from one field into the next.
        assert archive.search('"xa sang nay"') == []

        edited = {**ARTICLE, "lead": "Chiều nay, bà Trần Thị Bình chủ trì.", "images": []}
        assert _store(archive, edited, b"y").status == "changed"
        assert archive.search("nguyen duc anh OR dong thap") == []
        assert _urls(archive.search("tran thi binh")) == {ARTICLE["url"]}

        source = next(reparse_sources(archive))
        better = {**edited, "title": "Ông Lê Văn Cường thăm xã"}
        assert apply_reparse(archive, source, better, parser_version="t2")
        assert _urls(archive.search("title:cuong")) == {ARTICLE["url"]}
        assert [r["reason"] for r in archive.history(ARTICLE["url"])] == ["new", "edit", "reparse"]

        in_title = {**ARTICLE, "url": f"{BASE}/2", "title": "Đường giao thông nông thôn"}
        in_title["body"] = ["Không nói gì thêm."]
        _store(archive, in_title, b"z")
        hits = archive.search("duong giao thong")
        assert [hit["url"] for hit in hits] == [in_title["url"], ARTICLE["url"]]
        assert hits[0]["snippet"] == "[Đường giao thông] nông thôn"
        assert archive.rebuild_search_index() == 2
        assert _urls(archive.search("tran thi binh")) == {ARTICLE["url"]}


def test_the_search_index_is_made_for_a_postgresql_archive_without_one(pg_url: str) -> None:
    # Archives created on PostgreSQL before search worked there had no index.
    with Archive.open(pg_url) as archive:
        archive.upsert_portal("p", "Portal", BASE)
        _store(archive, ARTICLE)
        with archive.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE articles_fts")
    with Archive.open(pg_url) as archive:
        assert _urls(archive.search("duc anh")) == {ARTICLE["url"]}


# --- (3) many writers at once ---------------------------------------------------------

WORKERS = 4
ARTICLES = 20
EDITED = range(0, 6)
COPIED = range(14, 20)


def _article(n: int, version: int = 1) -> dict[str, Any]:
    record = copy.deepcopy(ARTICLE)
    record.update(url=f"{BASE}/a/{n}", title=f"Bài {n}: Đại hội Đảng bộ xã", body=[f"Đoạn {n}."])
    if version == 2:
        record["body"].append("Bản sửa: Hợp tác xã kiểu mới.")
    return record


def _writer(url: str, worker: int, barrier: Any, results: Any) -> None:
    """One worker process: open, add the portal, store every article, edit some, lock."""
    outcome: Counter[str] = Counter()
    order = list(range(ARTICLES))
    random.Random(worker).shuffle(order)
    barrier.wait()
    with Archive.open(url) as archive:  # several processes create the archive at once
        archive.upsert_portal("p", "Portal", BASE, province="Tỉnh")
        barrier.wait()
        for n in order:
            body = f"<p>{n}</p>".encode()
            outcome[_store(archive, _article(n), body).status] += 1
            if n in COPIED:  # the same story again, at a URL of this worker's own
                copy_url = f"{BASE}/a/{n}?from={worker}"
                stored = _store(archive, {**_article(n), "url": copy_url}, body)
                outcome[stored.status] += 1
        barrier.wait()
        for n in EDITED:
            outcome[_store(archive, _article(n, 2), f"<p>{n} v2</p>".encode()).status] += 1
        removed = archive.mark_removed(
            "p", f"{BASE}/a/{ARTICLES - 1}", reason="HTTP 404", http_status=404, run_id=None
        )
        outcome["removed"] += removed
        run_id = archive.start_run("p", ["Tin"], {})
        barrier.wait()
        try:
            archive.acquire_lock("p", run_id=run_id)
            outcome["locked"] += 1
        except LockHeld:
            outcome["refused"] += 1
        barrier.wait()  # the holder keeps it until every worker has tried
    results.put(dict(outcome))


def test_concurrent_writers_store_each_article_once(pg_url: str) -> None:
    # Forked from a fresh process that imported the archive once: nothing of pytest's
    # process (its open connections) reaches the workers, and they start quickly.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    barrier = context.Barrier(WORKERS, timeout=60)  # a worker that fails breaks it
    results = context.Queue()
    workers = [
        context.Process(target=_writer, args=(pg_url, n, barrier, results)) for n in range(WORKERS)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    total: Counter[str] = Counter()
    for outcome in outcomes:
        total.update(outcome)
    # Each story is new once; each edit is a change once; every other store found it.
    assert total["new"] == ARTICLES
    assert total["changed"] == len(EDITED)
    stores = WORKERS * (ARTICLES + len(COPIED) + len(EDITED))
    assert total["new"] + total["changed"] + total["unchanged"] + total["duplicate"] == stores
    assert (total["removed"], total["locked"], total["refused"]) == (1, 1, WORKERS - 1)

    with Archive.open(pg_url) as archive:
        assert archive.count_articles() == ARTICLES
        counts = _counts(archive)
        assert counts["article_urls"] == ARTICLES + WORKERS * len(COPIED)
        assert counts["article_revisions"] == ARTICLES + len(EDITED)
        assert counts["captures"] == ARTICLES + len(EDITED)  # same bytes, one capture
        assert counts["article_events"] == 1
        # A worker stores a story at its URL before its copy: that URL stays canonical.
        by_url = {a["url"]: a for a in archive.iter_articles()}
        assert set(by_url) == {f"{BASE}/a/{n}" for n in range(ARTICLES)}
        for n in range(ARTICLES):
            history = archive.history(f"{BASE}/a/{n}")
            want = [1, 2] if n in EDITED else [1]
            assert [r["revision"] for r in history] == want, n
            assert by_url[f"{BASE}/a/{n}"]["revision"] == want[-1]
        assert _urls(archive.search("hop tac xa", limit=100)) == {f"{BASE}/a/{n}" for n in EDITED}
        with archive._read() as session:
            assert session.scalar(select(func.count()).select_from(CrawlRun)) == WORKERS


def test_other_databases_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ArchiveError, match="supports SQLite and PostgreSQL databases, not mysql"):
        Archive.open("mysql://user@localhost/archive")
