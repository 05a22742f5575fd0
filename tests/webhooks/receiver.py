"""A real HTTP receiver on loopback (stdlib ``http.server`` in a thread) that records every request.

``responses`` decides each answer: an int status for every request, a list consumed in order
(its last value repeats), or a function of the request number (1-based).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Union

Responses = Union[int, list[int], Callable[[int], int]]


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A running receiver; ``url`` is where to point an endpoint."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    responses: Responses
    delay_s: float = 0.0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    def status_for(self, number: int) -> int:
        if isinstance(self.responses, int):
            return self.responses
        if isinstance(self.responses, list):
            return self.responses[min(number, len(self.responses)) - 1]
        return self.responses(number)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.requests)}")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start_receiver(responses: Responses = 200, *, delay_s: float = 0.0) -> Receiver:
    """Serve on 127.0.0.1 on a free port."""
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            receiver = holder["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                number = len(receiver.requests) + 1
                status = receiver.status_for(number)
                receiver.requests.append(Received(self.path, {k: v for k, v in self.headers.items()}, body, status))
            if receiver.delay_s:
                time.sleep(receiver.delay_s)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    receiver = Receiver(server, thread, responses, delay_s)
    holder["receiver"] = receiver
    thread.start()
    return receiver
