"""Distributed crawling on a real Redis, real replay servers, real archives.

Two `portal-archive worker` processes share jobs queued by `portal-archive
enqueue`: the archive they fill must equal a single-process crawl's, article
for article, in a first and an incremental run; politeness must hold across
them; and a worker killed with SIGKILL must lose nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy import FormRequest, Request, Spider
from sqlalchemy import text

from archive import Archive
from portal_crawler.cli import main
from portal_crawler.replay import ReplayServer
from tests.crawl_helpers import command, crawl_args
from tests.helpers import load_gold, snapshot_dir

# The `scale` extra (part of `test`); without it these tests are skipped.
redis = pytest.importorskip("redis")
pytest.importorskip("scrapy_redis")

from portal_crawler.distributed import serializer  # noqa: E402
from portal_crawler.distributed.job import Job, JobStore  # noqa: E402
from portal_crawler.distributed.keys import host_keys  # noqa: E402
from portal_crawler.distributed.politeness import HostGate  # noqa: E402
from portal_crawler.distributed.queue import LEASE_META, LeaseQueue  # noqa: E402

TARGET = "Hoạt động địa phương"
DELAY = 0.2
# The next request to a host leaves `DELAY` after the previous one was answered, and
# the server notes an arrival before it answers: gaps are exact, but for Redis's
# millisecond clock.
TIME_NOISE = 0.001
WORKER_SETTINGS = (
    "PORTAL_OBEY_CRAWL_DELAY=False",
    "PORTAL_RETRY_BACKOFF_BASE=0",
    "PORTAL_WORKER_HEARTBEAT=0.2",
)
COMPARED = (
    "url",
    "section",
    "title",
    "published",
    "lead",
    "body",
    "images",
    "credit",
    "attachments",
    "content_hash",
    "revision",
)


class LoggingReplayServer(ReplayServer):
    """A replay server that also notes when each request arrived and its answer's status."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.log: list[tuple[float, str, str, tuple[tuple[str, str], ...], int]] = []
        self._log_lock = threading.Lock()

    def _respond(self, method: str, target: str, form: list[tuple[str, str]]) -> Any:
        arrived = time.monotonic()
        status, headers, body = super()._respond(method, target, form)
        with self._log_lock:
            self.log.append((arrived, method, target, tuple(sorted(form)), int(status)))
        return status, headers, body

    def fetched_twice(self) -> dict[tuple[Any, ...], int]:
        """Requests made more than once, except retries of a 5xx or 429 answer."""
        counts = Counter((m, t, f) for _, m, t, f, _ in self.log)
        retried = {(m, t, f) for _, m, t, f, status in self.log if status >= 500 or status == 429}
        return {key: n for key, n in counts.items() if n > 1 and key not in retried}

    def shortest_gap(self) -> tuple[float, list[Any]]:
        """The shortest time between two requests' arrivals, and those two requests."""
        log = sorted(self.log)
        pairs = [(b[0] - a[0], [a, b]) for a, b in zip(log, log[1:], strict=False)]
        return min(pairs, default=(99.0, []), key=lambda pair: pair[0])

    def requested(self) -> set[tuple[Any, ...]]:
        return {(m, t, f) for _, m, t, f, _ in self.log}


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test's own; its keys are deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{name}:*"):
        client.delete(key)


@pytest.fixture
def servers() -> Iterator[Callable[[str], LoggingReplayServer]]:
    started: list[LoggingReplayServer] = []

    def start(portal_id: str) -> LoggingReplayServer:
        server = LoggingReplayServer(snapshot_dir(portal_id))
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def _enqueue(capsys: Any, redis_url: str, ns: str, db: Any, portal: str, origin: str) -> dict:
    args = ["--redis", redis_url, "--namespace", ns, "--db", str(db), "--mirror", origin]
    code = main(["enqueue", portal, *args, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)[0]


def _worker(redis_url: str, ns: str, db: Any, *settings: str) -> subprocess.Popen:
    args = command("worker", "--redis", redis_url, "--namespace", ns, "--db", str(db), "--json")
    args += ["--log-level", "INFO"]
    for setting in (*WORKER_SETTINGS, *settings):
        args += ["-s", setting]
    env = {**os.environ, "PYTHONUTF8": "1"}
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _finish(process: subprocess.Popen, timeout: float = 180) -> list[dict[str, Any]]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-4000:]
    process.log = err  # type: ignore[attr-defined]
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _until(condition: Callable[[], bool], timeout: float = 60) -> None:
    """Poll a condition that another process makes true (not a sleep for timing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _single_process_crawls(db: Path, origins: dict[str, str]) -> None:
    env = {**os.environ, "PYTHONUTF8": "1"}
    crawls = [
        subprocess.Popen(
            command(*crawl_args(db, portal, mirror=origin)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for portal, origin in origins.items()
    ]
    for crawl in crawls:
        _, err = crawl.communicate(timeout=180)
        assert crawl.returncode == 0, err[-3000:]


def _contents(archive: Archive, portal: str) -> dict[str, Any]:
    """What the archive holds of a portal, without timestamps; every article once."""
    articles = list(archive.iter_articles(portal))
    by_url = {
        a["url"]: {**{key: a[key] for key in COMPARED}, "removed": a["removed_at"] is not None}
        for a in articles
    }
    assert len(by_url) == len(articles), "an article was stored twice"
    with archive.engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT a.url, (SELECT COUNT(*) FROM captures c WHERE c.article_id = a.id),"
                " (SELECT COUNT(*) FROM article_revisions r WHERE r.article_id = a.id)"
                " FROM articles a WHERE a.portal_id = :portal"
            ),
            {"portal": portal},
        ).all()
    failures = sorted((f["url"], f["reason"]) for f in archive.failures() if f["portal"] == portal)
    return {
        "articles": by_url,
        "captures_and_revisions": sorted(tuple(row) for row in stored),
        "failures": failures,
        "frontier": archive.frontier_pending(portal),
    }


def _differences(got: dict[str, Any], want: dict[str, Any]) -> list[Any]:
    """What a distributed crawl stored differently from a single-process one."""
    found: list[Any] = [key for key in got if key != "articles" and got[key] != want[key]]
    for url in sorted(set(got["articles"]) | set(want["articles"])):
        mine, theirs = got["articles"].get(url), want["articles"].get(url)
        if mine is None or theirs is None:
            found.append((url, "only in one archive"))
            continue
        found += [(url, key, mine[key], theirs[key]) for key in mine if mine[key] != theirs[key]]
    return found


def _job_keys_left(redis_url: str, ns: str) -> list[str]:
    """Keys of jobs still in Redis (host slots and the portal list are not a job's)."""
    client = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in client.scan_iter(match=f"{ns}:*")]
    return sorted(k for k in keys if ":host:" not in k and k != f"{ns}:portals")


def test_two_workers_crawl_three_portals_as_one_process_would(
    redis_url, pg_url, namespace, servers, capsys, tmp_path
):
    portals = ("anbien", "hailang", "tanthanh")
    single = tmp_path / "single.sqlite"
    for state in ("initial", "later"):
        shared = {portal: servers(portal) for portal in portals}
        for portal, server in shared.items():
            server.switch_state(state)
            # Nothing is answered until both workers are up, so that both take part.
            server.hold_after(0)
            job = _enqueue(capsys, redis_url, namespace, pg_url, portal, server.origin)
            assert job["status"] == "queued"
        workers = [_worker(redis_url, namespace, pg_url, f"DOWNLOAD_DELAY={DELAY}") for _ in "ab"]
        with Archive.open(pg_url) as archive:
            # Both workers have a run (an open crawler) for each job.
            _until(lambda: [r["status"] for r in archive.runs()].count("running") == 6)
        for server in shared.values():
            server.release()
        runs = [_finish(worker) for worker in workers]

        alone = {portal: servers(portal) for portal in portals}
        for server in alone.values():
            server.switch_state(state)
        _single_process_crawls(single, {p: s.origin for p, s in alone.items()})

        # Both workers worked, each job ended well, and left nothing behind in Redis.
        for worker in workers:  # shown when the test fails
            print(f"--- a worker's log ({state}):\n{worker.log[-5000:]}", file=sys.stderr)
        work = [{run["portal"]: run["requests"] for run in worker} for worker in runs]
        assert all(sum(done.values()) for done in work), f"{state}: {work}"
        assert {run["status"] for worker in runs for run in worker} == {"finished"}
        assert _job_keys_left(redis_url, namespace) == []
        with Archive.open(pg_url) as distributed, Archive.open(single) as reference:
            for portal in portals:
                got, want = _contents(distributed, portal), _contents(reference, portal)
                assert got == want, f"{portal} ({state}): {_differences(got, want)}"
                gold = load_gold(portal, later=state == "later").values()
                present = {url for url, a in got["articles"].items() if not a["removed"]}
                assert present == {g["url"] for g in gold if g["section"] == TARGET}
        for portal in portals:
            server = shared[portal]
            # The same requests as one process, none twice, never two closer than the delay.
            assert server.requested() == alone[portal].requested(), portal
            assert server.fetched_twice() == {}, portal
            gap, which = server.shortest_gap()
            assert gap >= DELAY - TIME_NOISE, f"{portal} ({state}): {gap:.3f} s apart: {which}"


def _lease_of(client: Any, ns: str, portal: str, path: str) -> tuple[str, str]:
    """(lease, worker) of the leased request whose URL ends with `path`."""
    found = JobStore(client, ns).current(portal)
    assert found is not None
    keys = JobStore(client, ns).keys(found[1])
    for lease, owner in client.hgetall(keys.owners).items():
        payload = serializer.loads(client.hget(keys.payloads, lease))
        if payload["url"].endswith(path):
            return lease.decode(), owner.decode()
    raise AssertionError(f"no lease for {path}")


def test_a_killed_worker_loses_no_request(redis_url, namespace, servers, capsys, tmp_path):
    server = servers("mocaynam")
    db = tmp_path / "archive.sqlite"
    _enqueue(capsys, redis_url, namespace, db, "mocaynam", server.origin)
    # Every request is a queued one (no robots.txt, no media), so each has a lease.
    settings = (
        "DOWNLOAD_DELAY=0",
        "ROBOTSTXT_OBEY=False",
        "PORTAL_MEDIA=off",
        "PORTAL_LEASE_SECONDS=3",
    )
    server.hold_after(6)
    workers = {}
    for _ in "ab":
        process = _worker(redis_url, namespace, db, *settings)
        workers[process.pid] = process
    assert server.wait_for_requests(7, timeout=60)
    held = server.requests[6].path
    client = redis.Redis.from_url(redis_url)
    _, owner = _lease_of(client, namespace, "mocaynam", held)
    victim = workers.pop(int(owner.split(":")[1]))
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    server.release()
    (survivor,) = workers.values()
    runs = _finish(survivor)

    assert [run["status"] for run in runs] == ["finished"]
    # The request the dead worker had in flight was done again, by the survivor.
    assert held in [path for _, path, _ in server.requests[7:]]
    gold = {g["url"] for g in load_gold("mocaynam").values() if g["section"] == TARGET}
    with Archive.open(db) as archive:
        stored = [a["url"] for a in archive.iter_articles("mocaynam")]
        statuses = sorted(run["status"] for run in archive.runs("mocaynam"))
        assert archive.frontier_pending("mocaynam") == []
    assert sorted(stored) == sorted(gold)  # every article, each once
    assert statuses == ["finished", "interrupted"]
    assert _job_keys_left(redis_url, namespace) == []


# -- the parts, on the real Redis --------------------------------------------------------


def _queue(client: Any, ns: str, worker: str, lease: float = 60) -> LeaseQueue:
    keys = JobStore(client, ns).keys(Job("job1", "anbien"))
    return LeaseQueue(client, Spider(name="portal"), keys, worker=worker, lease=lease, ttl=600)


def test_leases_are_acknowledged_replaced_or_reclaimed(redis_url, namespace):
    client = redis.Redis.from_url(redis_url)
    mine, theirs = _queue(client, namespace, "w1"), _queue(client, namespace, "w2", lease=0)
    for n in range(3):
        mine.push(Request(f"https://x.gov.vn/{n}", priority=0, dont_filter=True))
    first = mine.pop()
    assert first is not None and first.url.endswith("/0")
    assert mine.ack(first.meta[LEASE_META]) and len(mine) == 2
    # A redirect takes its request's place in one step.
    second = mine.pop()
    mine.push(Request("https://x.gov.vn/1-moved"), replaces=second.meta[LEASE_META])
    assert client.zcard(mine.keys.inflight) == 0 and len(mine) == 2
    # A lease that lapses (its worker died) goes back to the queue, to the front.
    lapsed = theirs.pop()
    assert lapsed.url.endswith("/2")
    assert mine.reclaim() == {"w2": 1}
    again = mine.pop()
    assert again.url.endswith("/2") and again.meta[LEASE_META] == lapsed.meta[LEASE_META]
    # The dead worker's late acknowledgement does not cancel the survivor's work.
    assert not theirs.ack(lapsed.meta[LEASE_META])
    assert mine.ack(again.meta[LEASE_META])


def test_a_host_slot_is_shared_by_workers_in_turn(redis_url, namespace):
    client = redis.Redis.from_url(redis_url)
    one, two = (HostGate(client, namespace, w, hold=60) for w in ("w1", "w2"))
    keys = host_keys(namespace, "h:1")

    def ask(gate: HostGate, token: str, delay_ms: int, concurrency: int = 2) -> int:
        args = [delay_ms, concurrency, token, 60000, 10000, 50]
        return int(gate._enter(keys=keys, args=args))

    # With a delay: one request at a time, the next `delay` after the answer.
    assert ask(one, "a", 60000) == 0
    assert ask(two, "b", 60000) == -1
    one.held["a"] = ("h:1", 60000)
    one.leave("a")
    assert 59000 < ask(two, "b", 60000) <= 60000
    # Requests go in the order they first asked, whichever worker asks again first.
    assert ask(one, "c", 60000) == 50  # second in line: asks again in 50 ms
    client.set(keys[0], 0)
    assert ask(one, "c", 60000) == 50 and ask(two, "b", 60000) == 0
    # Without a delay, the concurrency is the limit, across workers.
    client.delete(*keys)
    assert ask(two, "d", 0) == 0 and ask(one, "e", 0) == 0
    assert ask(one, "f", 0) == 50 and ask(two, "g", 0) == 100


def test_queued_requests_survive_the_json_round_trip():
    spider = Spider(name="portal")
    request = FormRequest(
        "https://x.gov.vn/Trang/TinTuc.aspx?CateID=12",
        formdata={"__EVENTTARGET": "pager", "__VIEWSTATE": "đ/+="},
        headers={"If-None-Match": '"abc"'},
        meta={"section": "Hoạt động địa phương", "handle_httpstatus_list": [304]},
        dont_filter=True,
    )
    encoded = serializer.dumps(request.to_dict(spider=spider))
    decoded = serializer.loads(encoded)
    assert decoded["body"] == request.body and decoded["headers"] == dict(request.headers)
    assert decoded["meta"] == request.meta and decoded["_class"].endswith("FormRequest")


def test_a_portal_with_a_job_in_progress_is_refused(redis_url, namespace, capsys, tmp_path):
    db = tmp_path / "archive.sqlite"
    args = ["anbien", "--redis", redis_url, "--namespace", namespace, "--db", str(db)]
    assert main(["enqueue", *args, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)[0]
    client = redis.Redis.from_url(redis_url)
    keys = JobStore(client, namespace).keys(Job(first["job"], "anbien"))
    # The job's duplicate filter and claims expire with an abandoned job.
    assert client.pttl(keys.claims) > 0 and client.pttl(keys.requests) > 0
    assert main(["enqueue", *args, "--json"]) == 75
    second = json.loads(capsys.readouterr().out)[0]
    assert second["status"] == "refused" and first["job"] in second["message"]
