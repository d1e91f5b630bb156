"""Serve a portal snapshot (see tests/fixtures/portals/FORMAT.md) over loopback HTTP.

The crawler runs against a ReplayServer exactly as it would against the live portal:
same paths, statuses, headers and body bytes, including the deliberately broken ones.
Standard library only, so that tests and the offline demo need nothing else.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

STATES = ("initial", "later")
_RESPONSE_FILES = {"initial": "responses.jsonl", "later": "responses.later.jsonl"}
_NOT_FOUND_BODY = b"<html><body><h1>404 Not Found</h1></body></html>\n"
# Headers the server computes itself; a snapshot value would be stale after a rewrite.
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection"}


class RecordedRequest(NamedTuple):
    """One request the server received, as tests assert on it."""

    method: str
    path: str
    form: dict[str, str]


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: str | None  # path relative to the snapshot folder


@dataclass
class _Line:
    method: str
    path: str
    form: dict[str, str]
    answer: _Answer
    times: int = 0  # how many requests get `answer` before `then` takes over
    then: _Answer | None = None
    hits: int = 0

    def next_answer(self) -> _Answer:
        """Return the answer for one more matching request (caller holds the lock)."""
        self.hits += 1
        if self.then is not None and self.hits > self.times:
            return self.then
        return self.answer


def _normalized_target(target: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Path and query decoded and order-free, for clients that encode or order differently."""
    parts = urlsplit(target)
    query = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return unquote(parts.path), query


def _answer_from(obj: dict[str, Any]) -> _Answer:
    return _Answer(int(obj["status"]), dict(obj.get("headers") or {}), obj.get("body"))


def _load_lines(snapshot_dir: Path, state: str) -> list[_Line]:
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}, not {state!r}")
    lines: list[_Line] = []
    path = snapshot_dir / _RESPONSE_FILES[state]
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            obj = json.loads(raw)
            then = obj.get("then")
            lines.append(
                _Line(
                    method=obj.get("method", "GET").upper(),
                    path=obj["path"],
                    form={k: str(v) for k, v in (obj.get("form") or {}).items()},
                    answer=_answer_from(obj),
                    times=int(obj.get("times", 0)),
                    then=_answer_from(then) if then else None,
                )
            )
    return lines


def _form_matches(expected: dict[str, str], received: list[tuple[str, str]]) -> bool:
    return all((name, value) in received for name, value in expected.items())


class ReplayServer:
    """A snapshot served on loopback by a background thread.

    Use as a context manager, or call start() and stop(). `state` picks
    responses.jsonl ("initial") or responses.later.jsonl ("later");
    switch_state() changes it while the server runs.
    """

    def __init__(
        self,
        snapshot_dir: Path | str,
        *,
        state: str = "initial",
        host: str = "127.0.0.1",
        port: int = 0,
        rewrite_base_url: bool = False,
    ) -> None:
        self.snapshot_dir = Path(snapshot_dir)
        site = json.loads((self.snapshot_dir / "site.json").read_text(encoding="utf-8"))
        self.site: dict[str, Any] = site
        self.base_url: str = site["base_url"].rstrip("/")
        self.rewrite_base_url = rewrite_base_url
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._state = state
        self._lines = _load_lines(self.snapshot_dir, state)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Test hooks: wait until N requests arrived; hold answers after the Nth.
        self._arrived = threading.Condition(self._lock)
        self._hold_after: int | None = None
        self._released = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ReplayServer:
        if self._httpd is not None:
            return self
        self._httpd = _QuietHTTPServer((self._host, self._port), _make_handler(self))
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"replay-{self.site.get('id', 'snapshot')}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.release()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- public state ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def origin(self) -> str:
        """Where the server answers, e.g. "http://127.0.0.1:54321" (no trailing slash)."""
        return f"http://{self._host}:{self._port}"

    @property
    def state(self) -> str:
        return self._state

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def switch_state(self, state: str) -> None:
        """Serve the other state from now on; 5xx "times" counters start afresh."""
        lines = _load_lines(self.snapshot_dir, state)
        with self._lock:
            self._lines = lines
            self._state = state

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> bool:
        """Block until at least `count` requests have arrived (False on timeout)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self._requests) >= count, timeout)

    def hold_after(self, count: int | None) -> None:
        """Answer the first `count` requests, then keep later ones waiting until release().

        Lets a test stop a crawler at a known point (e.g. kill it mid-crawl)
        without sleeping.
        """
        with self._lock:
            self._hold_after = count
            self._released.clear()

    def release(self) -> None:
        with self._lock:
            self._hold_after = None
        self._released.set()

    def url(self, path: str) -> str:
        """The server's URL for a snapshot path such as "/robots.txt"."""
        return self.origin + path

    # -- request handling (called from handler threads) ------------------------------------

    def _respond(
        self, method: str, target: str, form: list[tuple[str, str]]
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self._requests.append(RecordedRequest(method, target, dict(form)))
            self._arrived.notify_all()
            held = self._hold_after is not None and len(self._requests) > self._hold_after
        if held:
            self._released.wait()
        with self._lock:
            line = self._find_line("GET" if method == "HEAD" else method, target, form)
            answer = line.next_answer() if line else None
        if answer is None:
            headers = {"Content-Type": "text/html; charset=utf-8"}
            return HTTPStatus.NOT_FOUND, headers, _NOT_FOUND_BODY
        return self._materialize(answer)

    def _find_line(self, method: str, target: str, form: list[tuple[str, str]]) -> _Line | None:
        candidates = [ln for ln in self._lines if ln.method == method]
        # Most specific first: exact target, then the same query in another order or encoding.
        exact = [ln for ln in candidates if ln.path == target]
        if not exact:
            wanted = _normalized_target(target)
            exact = [ln for ln in candidates if _normalized_target(ln.path) == wanted]
        matching = [ln for ln in exact if _form_matches(ln.form, form)]
        if not matching:
            return None
        return max(matching, key=lambda ln: len(ln.form))

    def _materialize(self, answer: _Answer) -> tuple[int, dict[str, str], bytes]:
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
        body = (self.snapshot_dir / answer.body).read_bytes() if answer.body else b""
        if self.rewrite_base_url:
            for name, value in headers.items():
                if name.lower() == "location":
                    headers[name] = value.replace(self.base_url, self.origin)
            content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
            if content_type.lower().startswith("text/"):
                body = body.replace(self.base_url.encode(), self.origin.encode())
        return answer.status, headers, body


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up idle keep-alive connections, so a stopped server really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler hanging up mid-response is normal; anything else is a real bug.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _not_modified(request: Any, headers: dict[str, str]) -> bool:
    """Conditional GET, as real servers answer it: same ETag or same Last-Modified."""
    lowered = {name.lower(): value for name, value in headers.items()}
    etag, modified = lowered.get("etag"), lowered.get("last-modified")
    if etag and request.get("If-None-Match"):
        return etag in [tag.strip() for tag in request["If-None-Match"].split(",")]
    return bool(modified and request.get("If-Modified-Since") == modified)


def _make_handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "portal-replay"

        def version_string(self) -> str:
            return self.server_version

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests and crawls must not spam stderr

        def _target(self) -> str:
            # A proxy-style absolute URI still names a path on this snapshot.
            if self.path.startswith(("http://", "https://")):
                parts = urlsplit(self.path)
                return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            return self.path

        def _serve(self, method: str) -> None:
            form: list[tuple[str, str]] = []
            raw = _read_body(self)
            if method == "POST" and raw:
                form = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
            status, headers, body = server._respond(method, self._target(), form)
            if status == 200 and _not_modified(self.headers, headers):
                status, body = 304, b""
            # send_response_only: the snapshot's own Server header must not be doubled.
            self.send_response_only(status)
            names = {name.lower() for name in headers}
            if "server" not in names:
                self.send_header("Server", self.version_string())
            if "date" not in names:
                self.send_header("Date", self.date_time_string())
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_HEAD(self) -> None:
            self._serve("HEAD")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m portal_crawler.replay",
        description="Serve a portal snapshot on loopback HTTP until interrupted.",
    )
    parser.add_argument("snapshot_dir", type=Path, help="folder holding site.json")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--later", action="store_true", help="serve responses.later.jsonl")
    parser.add_argument(
        "--rewrite-base-url",
        action="store_true",
        help="replace the portal's base URL by this server's origin in text bodies",
    )
    args = parser.parse_args(argv)
    server = ReplayServer(
        args.snapshot_dir,
        state="later" if args.later else "initial",
        host=args.host,
        port=args.port,
        rewrite_base_url=args.rewrite_base_url,
    )
    with server:
        print(f"Serving {server.base_url} ({server.state} state) at {server.origin}/", flush=True)
        print("Press Ctrl+C to stop.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
