"""Fixtures shared by the whole suite: snapshot folders and replay servers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portal_crawler.replay import ReplayServer
from tests.helpers import FIXTURES_DIR, SNAPSHOT_IDS

ReplayFactory = Callable[..., ReplayServer]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES_DIR


@pytest.fixture(scope="session")
def snapshot_ids() -> tuple[str, ...]:
    return SNAPSHOT_IDS


@pytest.fixture
def replay() -> Iterator[ReplayFactory]:
    """Start a ReplayServer for a portal id: replay("anbien", state="later", ...).

    Keyword arguments go to ReplayServer; every server started is stopped at teardown.
    """
    servers: list[ReplayServer] = []

    def start(portal_id: str, **kwargs: object) -> ReplayServer:
        server = ReplayServer(FIXTURES_DIR / portal_id, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


# --- real servers for the scale-out tests (tests/servers.py) ---------------------


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis: $PORTAL_TEST_REDIS_URL (CI) or a private redis-server."""
    from tests import servers

    if os.environ.get("PORTAL_TEST_REDIS_URL"):
        yield os.environ["PORTAL_TEST_REDIS_URL"]
        return
    if servers.redis_binary() is None:
        _missing("redis-server")
    with servers.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A real PostgreSQL server: $PORTAL_TEST_PG_URL (CI) or a private cluster."""
    from tests import servers

    if os.environ.get("PORTAL_TEST_PG_URL"):
        yield os.environ["PORTAL_TEST_PG_URL"]
        return
    if servers.pg_bin() is None:
        _missing("PostgreSQL")
    with servers.postgres_server() as url:
        yield url


@pytest.fixture
def pg_url(pg_server_url: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty PostgreSQL database for one test; its SQLAlchemy URL."""
    from tests import servers

    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    return servers.new_pg_database(pg_server_url, name)


def _missing(what: str) -> None:
    # CI installs both servers, so there a missing one is a failure, not a skip.
    if os.environ.get("CI") or os.environ.get("PORTAL_REQUIRE_SERVERS"):
        pytest.fail(f"{what} is required here but not installed")
    pytest.skip(f"{what} is not installed")
