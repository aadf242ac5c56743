"""Run inside a fresh virtualenv holding only the built wheel: the docs' snippet on a plain
WSGI app served by the standard library, reporting to a stand-in collector."""

from __future__ import annotations

import gzip
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import raceway
from raceway import raceway_middleware

assert "site-packages" in raceway.__file__, f"not the installed wheel: {raceway.__file__}"
events: list[dict[str, Any]] = []


class Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = gzip.decompress(self.rfile.read(int(self.headers["content-length"])))
        events.extend(json.loads(body)["events"])
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    raceway.track_state_read("greeting", "hello")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
threading.Thread(target=collector.serve_forever, daemon=True).start()
wrapped = raceway_middleware(
    app,
    service_name="api-service",
    server_url=f"http://127.0.0.1:{collector.server_address[1]}",
)
server = make_server("127.0.0.1", 0, wrapped, handler_class=QuietHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()

with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/hello") as response:
    trace_id = response.headers["X-Raceway-Trace-Id"]
    assert response.read() == b"hello"
assert raceway.flush(timeout=5)
kinds = [event["kind"] for event in events]
assert kinds == ["request_received", "state_read", "response_sent"], kinds
assert {event["trace_id"] for event in events} == {trace_id}
server.shutdown()
collector.shutdown()
print(f"wheel check: raceway {raceway.__version__} traced a request ({len(events)} events)")
