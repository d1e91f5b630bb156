"""A loopback HTTP server that misbehaves on purpose, route by route.

Each route is a function of the request handler that writes whatever it
likes: redirect loops, resets, silence, huge or mislabelled bodies.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the faults are deliberate


class FaultServer:
    def __init__(self, routes: dict[str, Route]):
        self.routes = routes
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    send(self, 404, b"not found")
                else:
                    route(self)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def wait_released(self, timeout: float) -> None:
        self._release.wait(timeout)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    content_type: str = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def page(body: bytes | str, content_type: str = "text/html; charset=utf-8") -> Route:
    data = body.encode() if isinstance(body, str) else body
    return lambda handler: send(handler, 200, data, content_type)


def redirect(location: str, status: int = 302) -> Route:
    return lambda handler: send(handler, status, b"", headers={"Location": location})


def reset(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection with a TCP RST instead of an answer."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True
    handler.connection.close()


def hang(server: FaultServer) -> Route:
    """Never answer (until the server stops): the client must time out."""
    return lambda handler: server.wait_released(60)


def sequence(*routes: Route) -> Route:
    """The first request gets routes[0], the second routes[1], ...; the last repeats."""
    calls = {"n": 0}
    lock = threading.Lock()

    def route(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            index = min(calls["n"], len(routes) - 1)
            calls["n"] += 1
        routes[index](handler)

    return route
