"""Real servers on loopback, port 0, in threads: the collector stand-in, WSGI and ASGI apps."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn
from jsonschema import Draft202012Validator
from werkzeug.serving import make_server

from tests.vectors import SPEC_DIR

_SCHEMAS = SPEC_DIR / "schemas"
_EVENT_SCHEMA = Draft202012Validator(
    json.loads((_SCHEMAS / "event.schema.json").read_text(encoding="utf-8"))
)
_BATCH_SCHEMA = Draft202012Validator(
    json.loads((_SCHEMAS / "batch.schema.json").read_text(encoding="utf-8"))
)


class FakeCollector:
    """Accepts `POST /v1/events` like the collector: gzip or not, answers 200 with the counts,
    or whatever status the test sets (`status`, or `answer` called with each batch; its None
    closes the connection without an answer). Keeps the decoded batches it answered 200, and
    every schema violation of a batch or an event (spec/schemas), which the `collector`
    fixture fails the test on. Without `check_events` only the batches are checked (events
    take a millisecond each, too slow for tests that send thousands)."""

    def __init__(self, *, check_events: bool = True) -> None:
        self.batches: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.requests: list[dict[str, str]] = []
        self.status = 200
        self.answer: Callable[[dict[str, Any]], int | None] | None = None
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                batch = json.loads(body)
                problems = [error.message for error in _BATCH_SCHEMA.iter_errors(batch)]
                for event in batch.get("events", []) if check_events else []:
                    problems += [
                        f"{event.get('kind')}: {error.message}"
                        for error in _EVENT_SCHEMA.iter_errors(event)
                    ]
                answer = collector.answer
                status = collector.status if answer is None else answer(batch)
                with collector.lock:
                    collector.violations += problems
                    collector.requests.append(dict(self.headers.items()))
                    if status == 200:
                        collector.batches.append(batch)
                if status is None:
                    self.close_connection = True
                    return
                counts = json.dumps({"accepted": len(batch["events"]), "duplicates": 0}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(counts)))
                self.end_headers()
                self.wfile.write(counts)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [event for batch in self.batches for event in batch["events"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def fake_collector(*, check_events: bool = True) -> Iterator[FakeCollector]:
    collector = FakeCollector(check_events=check_events)
    collector.thread.start()
    try:
        yield collector
    finally:
        collector.close()


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serves a WSGI app with werkzeug's threaded server; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serves an ASGI app with uvicorn in a thread on an ephemeral port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@contextmanager
def serve_aiohttp(app: Any) -> Iterator[str]:
    """Serves an `aiohttp.web.Application` on its own event loop in a thread, on an ephemeral
    port; yields its base URL."""
    from aiohttp import web  # noqa: PLC0415 (the other servers need no aiohttp)

    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
