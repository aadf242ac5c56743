"""The transport: spec 4.1 answers, bounded queue, retries, gzip, flush and shutdown."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
from typing import Any, cast
from unittest.mock import patch

import pytest
import requests

import raceway
from raceway import Tracer
from raceway.config import RacewayOptions, resolve_config
from raceway.transport import (
    SendResult,
    Transport,
    backoff_delay,
    classify_status,
    parse_retry_after,
)
from tests.servers import FakeCollector, serve_wsgi


class ScriptedSender:
    """Answers with the given results in turn (the last one repeats); keeps the batches."""

    def __init__(self, *results: SendResult, gate: threading.Event | None = None) -> None:
        self.results = list(results)
        self.batches: list[dict[str, Any]] = []
        self.gate = gate

    def __call__(self, body: bytes, headers: dict[str, str], timeout: float) -> SendResult:
        if self.gate is not None:
            self.gate.wait(10)
        self.batches.append(json.loads(gzip.decompress(body)))
        return self.results.pop(0) if len(self.results) > 1 else self.results[0]


def _transport(sender: ScriptedSender, **options: Any) -> Transport:
    config = resolve_config(
        cast(
            RacewayOptions,
            {"service_name": "t", "flush_interval_ms": 10, "max_retries": 2, **options},
        )
    )
    return Transport(config, sender)


def _event(index: int) -> dict[str, Any]:
    return {"id": f"{index:032x}", "kind": "custom"}


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (422, "partial"),
        (400, "dropped"),
        (401, "dropped"),
        (413, "dropped"),
        (415, "dropped"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (None, "retry"),
    ],
)
def test_collector_answers_are_classified_as_spec_4_1_says(
    status: int | None, outcome: str
) -> None:
    assert classify_status(status) == outcome


def test_delivered_events_are_counted_as_sent() -> None:
    sender = ScriptedSender(SendResult(200))
    transport = _transport(sender)
    for index in range(5):
        transport.enqueue(_event(index))
    assert transport.flush(timeout=5)
    assert transport.stats().sent == 5
    assert sum(len(batch["events"]) for batch in sender.batches) == 5
    assert sender.batches[0]["sdk"]["language"] == "python"
    transport.shutdown(1)


def test_a_422_counts_the_rejected_as_dropped_and_never_retries() -> None:
    body = json.dumps({"accepted": 1, "duplicates": 0, "rejected": [{"index": 1, "errors": []}]})
    sender = ScriptedSender(SendResult(422, body.encode()))
    transport = _transport(sender)
    transport.enqueue(_event(1))
    transport.enqueue(_event(2))
    assert transport.flush(timeout=5)
    stats = transport.stats()
    assert (stats.sent, stats.rejected, stats.dropped, stats.retries) == (1, 1, 1, 0)
    assert len(sender.batches) == 1
    transport.shutdown(1)


@pytest.mark.parametrize("status", [400, 401, 413, 415])
def test_an_unusable_batch_is_dropped_and_never_retried(status: int) -> None:
    sender = ScriptedSender(SendResult(status))
    transport = _transport(sender)
    transport.enqueue(_event(1))
    assert transport.flush(timeout=5)
    assert transport.stats().dropped == 1
    assert len(sender.batches) == 1
    transport.shutdown(1)


@pytest.mark.parametrize("status", [408, 429, 503, None])
def test_retryable_answers_are_retried_until_delivered(status: int | None) -> None:
    sender = ScriptedSender(SendResult(status, retry_after="0"), SendResult(200))
    transport = _transport(sender)
    transport.enqueue(_event(1))
    assert transport.flush(timeout=10)
    stats = transport.stats()
    assert (stats.sent, stats.retries, stats.dropped) == (1, 1, 0)
    transport.shutdown(1)


def test_retries_are_bounded_and_the_lost_batch_is_reported_in_the_next() -> None:
    sender = ScriptedSender(
        SendResult(503, retry_after="0"),
        SendResult(503, retry_after="0"),
        SendResult(503, retry_after="0"),
        SendResult(200),
    )
    transport = _transport(sender, max_retries=2)
    transport.enqueue(_event(1))
    assert transport.flush(timeout=10)
    assert transport.stats().dropped == 1
    transport.enqueue(_event(2))
    assert transport.flush(timeout=10)
    assert len(sender.batches) == 4
    assert sender.batches[-1]["dropped"] == 1


def test_a_full_queue_drops_and_counts_new_events() -> None:
    gate = threading.Event()
    sender = ScriptedSender(SendResult(200), gate=gate)
    transport = _transport(sender, max_queue_size=10, batch_size=5)
    for index in range(100):
        transport.enqueue(_event(index))
    stats = transport.stats()
    assert stats.queued == 10
    assert stats.dropped == 90
    gate.set()
    assert transport.flush(timeout=5)
    assert transport.stats().sent == 10
    transport.shutdown(1)


def test_the_queue_is_also_bounded_in_bytes() -> None:
    gate = threading.Event()
    sender = ScriptedSender(SendResult(200), gate=gate)
    transport = _transport(sender, max_queue_bytes=4096, batch_size=5)
    big = {"id": "1", "kind": "custom", "data": {"blob": "x" * 1000}}
    fits = 4096 // len(json.dumps(big, separators=(",", ":")).encode())
    for _ in range(10):
        transport.enqueue(big)
    stats = transport.stats()
    assert stats.queued == fits
    assert stats.dropped == 10 - fits
    gate.set()
    assert transport.flush(timeout=5)
    transport.enqueue(big)  # the bytes of delivered events are free again
    assert transport.flush(timeout=5)
    assert transport.stats().sent == fits + 1
    transport.shutdown(1)


def test_an_outage_is_retried_without_limit_by_default() -> None:
    outage = [SendResult(503, retry_after="0")] * 8
    sender = ScriptedSender(*outage, SendResult(200))
    config = resolve_config({"service_name": "t", "flush_interval_ms": 10})
    assert config.max_retries is None
    transport = Transport(config, sender)
    with patch("raceway.transport.backoff_delay", return_value=0.0):
        transport.enqueue(_event(1))
        assert transport.flush(timeout=10)
    stats = transport.stats()
    assert (stats.sent, stats.retries, stats.dropped) == (1, 8, 0)
    transport.shutdown(1)


def test_shutdown_flushes_and_later_events_are_dropped() -> None:
    sender = ScriptedSender(SendResult(200))
    transport = _transport(sender, flush_interval_ms=60_000)
    transport.enqueue(_event(1))
    transport.shutdown(timeout=5)
    assert transport.stats().sent == 1
    transport.enqueue(_event(2))
    assert transport.stats().dropped == 1


def test_batches_are_gzip_json_with_the_api_key(collector: FakeCollector) -> None:
    tracer = Tracer(service_name="gz", server_url=collector.url, api_key="s3cret")
    with tracer.start_trace():
        raceway.record_event("hello")
    assert tracer.flush(timeout=5)
    headers = {key.lower(): value for key, value in collector.requests[0].items()}
    assert headers["content-encoding"] == "gzip"
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer s3cret"
    assert collector.events[0]["data"] == {"name": "hello"}
    tracer.shutdown(1)


def test_backoff_is_full_jitter_under_a_cap() -> None:
    assert backoff_delay(0, lambda: 0.999) < 0.5
    assert backoff_delay(3, lambda: 1.0) == 4.0
    assert backoff_delay(50, lambda: 1.0) == 5.0
    assert backoff_delay(5, lambda: 0.0) == 0.0


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_dead_collector_keeps_memory_bounded_and_the_app_unaffected() -> None:
    tracer = Tracer(
        service_name="dead",
        server_url=f"http://127.0.0.1:{_closed_port()}",
        max_queue_size=50,
        flush_interval_ms=10,
    )

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raceway.track_state_write("row", 1)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with serve_wsgi(raceway.raceway_middleware(app, tracer=tracer)) as url, requests.Session() as s:
        statuses = {s.get(f"{url}/x", timeout=5).status_code for _ in range(200)}
    assert statuses == {200}
    stats = tracer.stats()
    # 200 requests record 600 events; at most 50 are held, the rest are dropped and counted.
    assert stats.queued <= 50
    assert stats.dropped >= 600 - 50
    assert stats.sent == 0
    assert stats.last_error is not None
    tracer.shutdown(timeout=0.5)


def test_events_are_flushed_when_the_interpreter_exits(collector: FakeCollector) -> None:
    script = (
        "import raceway\n"
        f"tracer = raceway.init(service_name='exiting', server_url={collector.url!r},"
        " flush_interval_ms=60000)\n"
        "with tracer.start_trace():\n"
        "    raceway.record_event('last words')\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    assert [event["data"]["name"] for event in collector.events] == ["last words"]


def test_the_transport_never_traces_its_own_calls(collector: FakeCollector) -> None:
    tracer = Tracer(service_name="self", server_url=collector.url)
    with tracer.start_trace():
        raceway.record_event("one")
        assert tracer.flush(timeout=5)
        raceway.record_event("two")
        assert tracer.flush(timeout=5)
    kinds = [event["kind"] for event in collector.events]
    assert kinds == ["custom", "custom"]
    tracer.shutdown(1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_starts_its_own_transport(collector: FakeCollector) -> None:
    tracer = Tracer(service_name="forking", server_url=collector.url)
    with tracer.start_trace():
        raceway.record_event("parent")
    pid = os.fork()
    if pid == 0:  # the child: record and flush through a transport of its own
        with tracer.start_trace():
            raceway.record_event("child")
        os._exit(0 if tracer.flush(timeout=5) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert tracer.flush(timeout=5)
    assert sorted(event["data"]["name"] for event in collector.events) == ["child", "parent"]
    tracer.shutdown(1)


def test_an_event_with_a_lone_surrogate_is_still_sent() -> None:
    sender = ScriptedSender(SendResult(200))
    transport = _transport(sender)
    transport.enqueue({"id": "1", "kind": "custom", "data": {"name": "bad \udc80 text"}})
    assert transport.flush(timeout=5)
    assert sender.batches[0]["events"][0]["data"]["name"] == "bad ? text"
    transport.shutdown(1)


def test_debug_says_when_the_collector_goes_and_comes_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender = ScriptedSender(SendResult(None, error="refused"), SendResult(None), SendResult(200))
    transport = _transport(sender, debug=True, max_retries=None)
    with (
        caplog.at_level("WARNING", logger="raceway"),
        patch("raceway.transport.backoff_delay", return_value=0.0),
    ):
        transport.enqueue(_event(1))
        assert transport.flush(timeout=5)
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "raceway: collector unreachable: refused; retrying with backoff, 1 events held",
        "raceway: collector reachable again",
    ]
    transport.shutdown(1)
