"""SIGTERM right after a request loses none of its events (exit_signals): a real process with
a long flush interval, its default SIGTERM action, and the fake collector on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import requests

from tests.servers import FakeCollector

# The README's plain setup: raceway.init() and the middleware, nothing about signals.
_SERVICE = """
import json, sys
from wsgiref.simple_server import make_server, WSGIRequestHandler
import raceway

raceway.init(service_name="stopping", flush_interval_ms=60000)

def app(environ, start_response):
    raceway.track_state_write("stock:1", 9)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = make_server("127.0.0.1", 0, raceway.raceway_middleware(app), handler_class=Quiet)
print(json.dumps({"url": f"http://127.0.0.1:{server.server_port}"}), flush=True)
server.serve_forever()
"""


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
def test_sigterm_right_after_a_request_sends_its_events(collector: FakeCollector) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RACEWAY_", "OTEL_"))}
    service = subprocess.Popen(
        [sys.executable, "-c", _SERVICE],
        env={**env, "RACEWAY_URL": collector.url},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert service.stdout is not None
        url = json.loads(service.stdout.readline())["url"]
        response = requests.get(f"{url}/reserve", timeout=10)
        trace_id = response.headers["X-Raceway-Trace-Id"]
        service.send_signal(signal.SIGTERM)
        # It ends as SIGTERM ends it by default, after the flush.
        assert service.wait(timeout=30) == -signal.SIGTERM
    finally:
        if service.poll() is None:
            service.kill()
    kinds = [e["kind"] for e in collector.events if e["trace_id"] == trace_id]
    assert kinds == ["request_received", "state_write", "response_sent"]


def test_an_application_sigterm_handler_is_left_alone() -> None:
    script = (
        "import signal, raceway\n"
        "mine = lambda *_: None\n"
        "signal.signal(signal.SIGTERM, mine)\n"
        "raceway.init(service_name='s')\n"
        "assert signal.getsignal(signal.SIGTERM) is mine\n"
        "print('kept')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "kept"
