"""A misconfigured SDK says so without debug mode (spec 4.2 Warnings, spec 7 Unknown
variables): a wrong collector URL, a wrong API key and a misspelt variable each give a warning
on the `raceway` logger, which Python prints to stderr even when logging is not configured."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

import raceway
from raceway import Tracer
from raceway.delivery_warnings import WARNING_INTERVAL_S, DeliveryWarnings
from tests.servers import FakeCollector

# Records an event, waits (without shutting down, which would say its own things) until the
# transport has had its first answer, then leaves at once: what it printed came from the
# running transport, within the first failed attempt.
_ONE_ATTEMPT = """
import os, sys, time, raceway
tracer = raceway.init(service_name="loud", flush_interval_ms=10)
with tracer.start_trace():
    raceway.record_event("lost?")
deadline = time.monotonic() + 20
while tracer.stats().retries + tracer.stats().dropped + tracer.stats().sent == 0:
    if time.monotonic() > deadline:
        break
    time.sleep(0.01)
sys.stderr.write("-- first answer --\\n")
sys.stderr.flush()
os._exit(0)
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _run(env: dict[str, str], script: str = _ONE_ATTEMPT) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RACEWAY_", "OTEL_"))}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr


def test_an_unreachable_collector_is_a_warning_at_the_first_attempt() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    stderr = _run({"RACEWAY_URL": url})
    before, _, _ = stderr.partition("-- first answer --")
    assert f"raceway: cannot deliver events to {url}/v1/events" in before
    assert "RACEWAY_URL" in before


def test_a_wrong_api_key_is_a_warning_naming_the_variable(collector: FakeCollector) -> None:
    collector.status = 401
    stderr = _run({"RACEWAY_URL": collector.url, "RACEWAY_API_KEY": "wrong"})
    before, _, _ = stderr.partition("-- first answer --")
    assert f"1 event(s) for {collector.url}/v1/events dropped: HTTP 401" in before
    assert "check RACEWAY_API_KEY" in before


def test_a_misspelt_url_variable_is_named_at_startup() -> None:
    script = "import raceway\nraceway.init(service_name='s', disabled=True)\n"
    stderr = _run({"RACEWAY_SERVER_URL": "http://collector:9000"}, script)
    assert "raceway: RACEWAY_SERVER_URL is set but not read (did you mean RACEWAY_URL?)" in stderr


def test_a_healthy_collector_gets_no_warning(
    collector: FakeCollector, caplog: pytest.LogCaptureFixture
) -> None:
    tracer = Tracer(service_name="quiet", server_url=collector.url, flush_interval_ms=10)
    with caplog.at_level("INFO", logger="raceway"), tracer.start_trace():
        raceway.record_event("fine")
    assert tracer.flush(timeout=5)
    tracer.shutdown(timeout=2)
    assert caplog.records == []


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_warnings_are_rate_limited_and_count_what_they_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = _Clock()
    warnings = DeliveryWarnings("http://c/v1/events", clock=clock)
    with caplog.at_level("INFO", logger="raceway"):
        warnings.failing("refused", 1)
        for _ in range(5):
            clock.now += 1
            warnings.failing("refused", 2)
        # Another kind has a limit of its own: the first drop is said at once.
        warnings.dropped(3, "HTTP 401", 401)
        clock.now += WARNING_INTERVAL_S
        warnings.failing("refused", 3)
        warnings.recovered(7)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 4
    assert messages[0].startswith("raceway: cannot deliver events to http://c/v1/events (refused)")
    assert messages[1] == (
        "raceway: 3 event(s) for http://c/v1/events dropped: HTTP 401;"
        " check RACEWAY_API_KEY (api_key) against the collector's keys"
    )
    assert messages[2].endswith("(5 more delivery problem(s) since the last warning)")
    assert messages[3] == (
        "raceway: collector at http://c/v1/events reachable again after 7 failed attempt(s)"
    )
