"""Real Redis and PostgreSQL servers for the scale-out tests.

`.ci/run` starts both on loopback and exports PORTAL_TEST_REDIS_URL and
PORTAL_TEST_PG_URL; the fixtures use those when set. Without them (a developer's
machine) the fixtures start private servers from the Debian packages on free
ports in a temporary directory, and stop them at the end of the session. Where
the binaries are missing the tests that need them are skipped with the reason;
CI always has them, so there nothing is skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
# PostgreSQL refuses to run as root: as root the private cluster runs as this user.
PG_USER = "postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes] | None, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)  # polling a server's start-up, not synchronising tests
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within 60 s")


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on a free loopback port; yields its URL."""
    binary = redis_binary()
    if binary is None:
        raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="portal-redis-") as work:
        args = [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            work,
        ]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for_port(port, process, "redis-server")
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            process.wait(timeout=30)


def pg_bin() -> Path | None:
    for directory in PG_BIN_DIRS:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


def _as_pg_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", PG_USER, "--", *args]


@contextmanager
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL cluster on a free loopback port; yields a SQLAlchemy URL.

    fsync is off: the cluster is thrown away, and the tests are about behaviour.
    """
    bin_dir = pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL is not installed (apt-get install postgresql)")
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="portal-pg-"))
    data = work / "data"
    if os.geteuid() == 0:
        shutil.chown(work, PG_USER)
    try:
        subprocess.run(
            _as_pg_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "portal",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            _as_pg_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(work / "log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        try:
            _wait_for_port(port, None, "postgres")
            subprocess.run(
                _as_pg_user(
                    [
                        str(bin_dir / "createdb"),
                        "-h",
                        "127.0.0.1",
                        "-p",
                        str(port),
                        "-U",
                        "portal",
                        "portal",
                    ]
                ),
                check=True,
                capture_output=True,
            )
            yield f"postgresql+psycopg://portal@127.0.0.1:{port}/portal"
        finally:
            subprocess.run(
                _as_pg_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                capture_output=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def new_pg_database(base_url: str, name: str) -> str:
    """Create an empty database `name` on the server of base_url; return its URL."""
    from sqlalchemy import create_engine, make_url, text

    url = make_url(base_url)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)
