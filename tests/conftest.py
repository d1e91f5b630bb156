"""Fixtures shared by the whole suite: snapshot folders and replay servers."""

from __future__ import annotations

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
