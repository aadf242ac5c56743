"""The transport: spec 4.1 answers, 4.2 delivery, bounded queue, retries, gzip, flush and
shutdown."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, cast
from unittest.mock import Mock, patch

import pytest
import requests

import raceway
from raceway import Tracer
from raceway.config import RacewayOptions, resolve_config
from raceway.delivery import backoff_delay, classify_status, parse_retry_after
from raceway.transport import MAX_IN_FLIGHT, Sender, SendResult, Transport
from tests.servers import FakeCollector, fake_collector, serve_wsgi


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


def _transport(sender: Sender, *, max_in_flight: int = MAX_IN_FLIGHT, **options: Any) -> Transport:
    config = resolve_config(
        cast(
            RacewayOptions,
            {"service_name": "t", "flush_interval_ms": 10, "max_retries": 2, **options},
        )
    )
    return Transport(config, sender, max_in_flight=max_in_flight)


SEQUENTIAL = 1
"""For the tests that pin the order of requests: one batch in flight at a time, so that the
order is the transport's, not the threads' (the rules are the same with more slots)."""


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
        (599, "retry"),
        (None, "retry"),
        (600, "dropped"),
        (99, "dropped"),
        (0, "dropped"),
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
    with patch("raceway.transport.retry_delay", return_value=0):
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


def test_backoff_defaults_to_250_ms_doubling_up_to_5_s() -> None:
    # The vectors (spec/vectors/delivery.json) pin the values; these pin the defaults' names.
    assert [backoff_delay(n, 0.5) for n in range(6)] == [125, 250, 500, 1000, 2000, 2500]
    assert backoff_delay(3, 0.5, base_ms=10, cap_ms=60) == 30


@pytest.mark.parametrize(
    ("value", "delay_ms"),
    [
        ("Sunday, 06-Nov-94 08:49:37 GMT", 7000),  # RFC 850
        ("Sun Nov  6 08:49:37 1994", 7000),  # asctime, in GMT
        ("Sun, 06 Nov 1994 08:49:37 GMT", 7000),  # IMF-fixdate
        ("Sun, 31 Feb 1994 08:49:37 GMT", None),  # no such day
        ("06 Nov 1994 08:49:37 GMT", None),  # no weekday
        ("Sun, 06 Nov 1994 08:49:37 +0000", None),  # not GMT
        ("\u00b2", None),  # a digit to str.isdigit, not to HTTP
        ("99999999999999999999", 99999999999999999999000),
    ],
)
def test_retry_after_reads_http_dates_and_nothing_else(value: str, delay_ms: int | None) -> None:
    now_ms = 784111770000  # Sun, 06 Nov 1994 08:49:30 GMT
    assert parse_retry_after(value, now_ms) == delay_ms


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
        patch("raceway.transport.retry_delay", return_value=0),
    ):
        transport.enqueue(_event(1))
        assert transport.flush(timeout=5)
    messages = [record.getMessage() for record in caplog.records]
    endpoint = "http://127.0.0.1:8080/v1/events"
    assert messages == [
        f"raceway: cannot deliver events to {endpoint} (collector unreachable: refused); 1 event(s)"
        " held and retried while the queue has room. Check that the collector runs there and"
        " that RACEWAY_URL (server_url) points to it",
        f"raceway: cannot deliver events to {endpoint} (collector unreachable: no answer);"
        " 1 event(s) held and retried while the queue has room. Check that the collector runs"
        " there and that RACEWAY_URL (server_url) points to it",
        f"raceway: collector at {endpoint} reachable again after 2 failed attempt(s)",
    ]
    transport.shutdown(1)


# -- spec 4.2: a failing batch does not hold up the others --------------------------------


class RuleSender:
    """Answers each batch with `answer(batch)`; keeps the batches and their bodies in order."""

    def __init__(self, answer: Callable[[dict[str, Any]], SendResult]) -> None:
        self.answer = answer
        self.batches: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []

    def __call__(self, body: bytes, headers: dict[str, str], timeout: float) -> SendResult:
        batch = json.loads(gzip.decompress(body))
        self.batches.append(batch)
        self.bodies.append(body)
        return self.answer(batch)

    def ids(self) -> list[list[int]]:
        return [[int(event["id"], 16) for event in batch["events"]] for batch in self.batches]


def _until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


@pytest.fixture
def no_retry_delay() -> Iterator[Mock]:
    with patch("raceway.transport.retry_delay", return_value=0) as delay:
        yield delay


@pytest.mark.usefixtures("no_retry_delay")
def test_a_batch_answered_retry_goes_behind_the_others_with_the_same_body() -> None:
    gate = threading.Event()

    def answer(batch: dict[str, Any]) -> SendResult:
        gate.wait(10)  # until every event is queued
        return SendResult(503 if len(sender.batches) == 1 else 200)

    sender = RuleSender(answer)
    transport = _transport(
        sender,
        batch_size=2,
        flush_interval_ms=60_000,
        max_retries=None,
        max_in_flight=SEQUENTIAL,
    )
    for index in range(6):
        transport.enqueue(_event(index))
    gate.set()
    assert transport.flush(timeout=5)
    assert sender.ids() == [[0, 1], [2, 3], [4, 5], [0, 1]]
    assert sender.bodies[3] == sender.bodies[0]
    stats = transport.stats()
    assert (stats.sent, stats.retries, stats.dropped, stats.queued) == (6, 1, 0, 0)
    transport.shutdown(1)


@pytest.mark.usefixtures("no_retry_delay")
def test_a_batch_struck_five_times_while_others_are_delivered_is_dropped() -> None:
    gate = threading.Event()
    traffic = iter(range(10, 100))

    def answer(batch: dict[str, Any]) -> SendResult:
        gate.wait(10)
        poison = any(event["id"] == _event(0)["id"] for event in batch["events"])
        if poison:  # the application goes on: another batch before the next attempt
            transport.enqueue(_event(next(traffic)))
        return SendResult(503 if poison else 200)

    sender = RuleSender(answer)
    transport = _transport(
        sender,
        batch_size=1,
        flush_interval_ms=60_000,
        max_retries=None,
        max_in_flight=SEQUENTIAL,
    )
    for index in range(4):
        transport.enqueue(_event(index))
    gate.set()
    assert transport.flush(timeout=5)
    # The first answer is no strike (nothing was delivered since the batch was sent); each
    # later one is, as another batch was delivered since the previous: dropped at the sixth.
    assert sender.ids() == [
        [0], [1], [2], [3], [10], [0], [11], [0], [12], [0], [13], [0], [14], [0], [15]
    ]  # fmt: skip
    stats = transport.stats()
    assert (stats.sent, stats.retries, stats.dropped, stats.queued) == (9, 5, 1, 0)
    assert stats.last_error is not None
    assert stats.last_error.startswith("HTTP 503")
    # Counted like any other drop: reported to the collector in the next batch.
    assert sender.batches[-1]["dropped"] == 1
    assert all("dropped" not in batch for batch in sender.batches[:-1])
    transport.shutdown(1)


@pytest.mark.usefixtures("no_retry_delay")
def test_a_batch_that_waited_out_an_outage_has_no_strikes() -> None:
    """Failures during an outage (nothing delivered) are no strikes: a batch that failed 8 times
    is not dropped at its first failure after the collector is back, and is delivered."""
    answers = iter([503] * 8 + [200, 503, 200])

    def answer(batch: dict[str, Any]) -> SendResult:
        status = next(answers)
        if len(sender.batches) == 8:  # the outage ends: another batch gets in first
            transport.enqueue(_event(1))
        return SendResult(status)

    sender = RuleSender(answer)
    transport = _transport(sender, batch_size=1, max_retries=None)
    transport.enqueue(_event(0))
    assert transport.flush(timeout=5)
    assert sender.ids() == [[0]] * 8 + [[1], [0], [0]]
    stats = transport.stats()
    assert (stats.sent, stats.retries, stats.dropped, stats.queued) == (2, 9, 0, 0)
    transport.shutdown(1)


def test_a_collector_that_fails_every_batch_loses_none(no_retry_delay: Mock) -> None:
    answers = iter([SendResult(503, retry_after="3"), SendResult(None)] * 10)
    sender = RuleSender(lambda batch: next(answers, SendResult(200)))
    transport = _transport(sender, batch_size=1, max_retries=None, max_in_flight=SEQUENTIAL)
    for index in range(3):
        transport.enqueue(_event(index))
    assert transport.flush(timeout=5)
    stats = transport.stats()
    assert (stats.sent, stats.retries, stats.dropped) == (3, 20, 0)
    # Each request waited the delay counted over the consecutive failures, with Retry-After.
    attempts = [call.args[0] for call in no_retry_delay.call_args_list]
    assert attempts == list(range(20))
    assert no_retry_delay.call_args_list[0].args[2] == "3"
    assert no_retry_delay.call_args_list[1].args[2] is None


def test_a_delivery_ends_the_failing_state(no_retry_delay: Mock) -> None:
    answers = iter([503, 503, 200, 503])
    sender = RuleSender(lambda batch: SendResult(next(answers, 200)))
    transport = _transport(sender, batch_size=1, max_retries=None, max_in_flight=SEQUENTIAL)
    for index in range(4):
        transport.enqueue(_event(index))
    assert transport.flush(timeout=5)
    assert [call.args[0] for call in no_retry_delay.call_args_list] == [0, 1, 0]
    assert transport.stats().sent == 4
    transport.shutdown(1)


@pytest.mark.usefixtures("no_retry_delay")
def test_a_requeued_batch_keeps_its_place_in_the_queue_bound() -> None:
    queued, resume = threading.Event(), threading.Event()

    def answer(batch: dict[str, Any]) -> SendResult:
        if len(sender.batches) == 1:
            queued.wait(10)
            return SendResult(503)
        resume.wait(10)
        return SendResult(200)

    sender = RuleSender(answer)
    transport = _transport(
        sender,
        batch_size=2,
        max_queue_size=4,
        flush_interval_ms=60_000,
        max_retries=None,
        max_in_flight=SEQUENTIAL,
    )
    for index in range(4):
        transport.enqueue(_event(index))
    queued.set()
    _until(lambda: len(sender.batches) == 2)  # [0, 1] requeued, [2, 3] in flight
    assert transport.stats().queued == 4
    transport.enqueue(_event(4))
    assert transport.stats().dropped == 1
    resume.set()
    assert transport.flush(timeout=5)
    assert sender.ids() == [[0, 1], [2, 3], [0, 1]]
    assert (transport.stats().sent, transport.stats().queued) == (4, 0)
    transport.shutdown(1)


def test_shutdown_cuts_the_wait_of_a_failing_collector_short() -> None:
    sender = RuleSender(lambda batch: SendResult(503))
    transport = _transport(sender, batch_size=1, max_retries=None)
    with patch("raceway.transport.retry_delay", return_value=60_000):
        for index in range(3):
            transport.enqueue(_event(index))
        _until(lambda: len(sender.batches) >= 1)  # up to three went at once
        started = time.monotonic()
        transport.shutdown(timeout=0.2)
    assert time.monotonic() - started < 2
    stats = transport.stats()
    assert (stats.sent, stats.dropped, stats.queued) == (0, 3, 0)


@pytest.fixture
def busy_collector() -> Iterator[FakeCollector]:
    """The collector stand-in for thousands of events: checks the batches, not every event."""
    with fake_collector(check_events=False) as running:
        yield running
        assert running.violations == [], "batches outside spec/schemas"


def _record(tracer: Tracer, name: str, count: int) -> None:
    with tracer.start_trace():
        for _ in range(count):
            raceway.record_event(name)


def test_poison_batches_are_dropped_and_hold_up_no_good_event(
    busy_collector: FakeCollector,
) -> None:
    """A collector that answers 503 to any batch with a "poison" event, while the application
    goes on recording: every good event is delivered, and each poison batch is dropped at its
    fifth strike. Its first answer is a strike only when another batch, in flight beside it,
    was delivered in the meantime (spec 4.2: "since it was sent"), so a poison batch is tried
    6 or 5 times; with one request at a time it is always 6 (the strike test above)."""
    gate = threading.Event()
    attempts: Counter[str] = Counter()
    good = 1700

    def answer(batch: dict[str, Any]) -> int:
        nonlocal good
        gate.wait(10)  # the first batch waits until the first events are all queued
        poison = [event["id"] for event in batch["events"] if event["data"]["name"] == "poison"]
        if not poison:
            return 200
        attempts[poison[0]] += 1
        # Continuous traffic: other batches are delivered before each next attempt.
        more = 2000 if attempts[poison[0]] == 1 else 100
        _record(tracer, "good", more)
        good += more
        return 503

    busy_collector.answer = answer
    tracer = Tracer(
        service_name="poisoned",
        server_url=busy_collector.url,
        batch_size=100,
        flush_interval_ms=60_000,
    )
    # 20 batches of 100 events, three of them (two in a row) poison.
    names = ["poison" if group in (4, 11, 12) else "good" for group in range(20)]
    for name in names:
        _record(tracer, name, 100)
    gate.set()
    assert tracer.flush(timeout=20), f"poison batches not dropped: {tracer.stats()}"
    delivered = [event for event in busy_collector.events if event["data"]["name"] == "good"]
    assert len({event["id"] for event in delivered}) == len(delivered) == good
    assert len(busy_collector.events) == good
    assert len(attempts) == 3
    assert set(attempts.values()) <= {5, 6}
    stats = tracer.stats()
    assert stats.retries == sum(attempts.values()) - 3  # every answer but the last is a retry
    assert (stats.sent, stats.dropped, stats.rejected, stats.queued) == (good, 300, 0, 0)
    # Drops are reported in the next batch made after them: with batches in flight beside the
    # last poison batch, that is the application's next event.
    _record(tracer, "good", 1)
    assert tracer.flush(timeout=5)
    assert sum(batch.get("dropped", 0) for batch in busy_collector.batches) == 300
    tracer.shutdown(1)


def test_a_collector_down_for_seconds_loses_no_event(busy_collector: FakeCollector) -> None:
    back_at = time.monotonic() + 2
    requests: list[float] = []

    def answer(batch: dict[str, Any]) -> int | None:
        requests.append(time.monotonic())
        if time.monotonic() < back_at:
            return 503 if len(requests) % 2 else None  # None: no answer at all
        return 200

    busy_collector.answer = answer
    tracer = Tracer(
        service_name="outage", server_url=busy_collector.url, batch_size=50, flush_interval_ms=20
    )
    recorded = 0
    while time.monotonic() < back_at + 0.5:
        _record(tracer, "event", 20)
        recorded += 20
        time.sleep(0.01)
    assert tracer.flush(timeout=15)
    ids = {event["id"] for event in busy_collector.events}
    assert len(ids) == len(busy_collector.events) == recorded
    stats = tracer.stats()
    assert (stats.sent, stats.dropped, stats.queued) == (recorded, 0, 0)
    assert stats.retries > 0
    tracer.shutdown(1)


# -- spec 4.2 with several requests in flight ---------------------------------------------


class ConcurrentSender:
    """Answers with `answer(batch)` once `release` is set; counts the calls in progress and
    the most there ever were at once."""

    def __init__(self, answer: Callable[[dict[str, Any]], SendResult]) -> None:
        self.answer = answer
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.batches: list[dict[str, Any]] = []

    def __call__(self, body: bytes, headers: dict[str, str], timeout: float) -> SendResult:
        batch = json.loads(gzip.decompress(body))
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.batches.append(batch)
        try:
            self.release.wait(10)
            return self.answer(batch)
        finally:
            with self.lock:
                self.now -= 1

    def in_progress(self) -> int:
        with self.lock:
            return self.now


def test_three_batches_are_in_flight_at_once_and_no_more() -> None:
    sender = ConcurrentSender(lambda batch: SendResult(200))
    transport = _transport(sender, batch_size=2, flush_interval_ms=60_000, max_retries=None)
    for index in range(20):
        transport.enqueue(_event(index))
    _until(lambda: sender.in_progress() == 3)
    assert transport.stats().queued == 20  # the batches in flight count until answered
    sender.release.set()
    assert transport.flush(timeout=10)
    assert sender.most == 3
    delivered = sorted(int(event["id"], 16) for b in sender.batches for event in b["events"])
    assert delivered == list(range(20))  # each event once
    assert (transport.stats().sent, transport.stats().batches_sent) == (20, 10)
    transport.shutdown(1)


def test_a_trickle_goes_out_one_small_batch_at_a_time() -> None:
    """A second request starts only for a ready batch: events that do not fill a batch wait
    for the request in flight instead of taking a slot each."""
    sender = ConcurrentSender(lambda batch: SendResult(200))
    transport = _transport(sender, batch_size=100, flush_interval_ms=1, max_retries=None)
    transport.enqueue(_event(0))
    _until(lambda: sender.in_progress() == 1)
    for index in range(1, 4):
        transport.enqueue(_event(index))
    sender.release.set()
    # No flush yet: a flush makes every batch ready, and may take a second slot.
    _until(lambda: len(sender.batches) == 2 and sender.in_progress() == 0)
    assert sender.most == 1
    assert transport.flush(timeout=10)
    assert [len(batch["events"]) for batch in sender.batches] == [1, 3]
    transport.shutdown(1)


def test_an_answer_does_not_send_a_small_batch(collector: FakeCollector) -> None:
    """Spec 4.2, batching: fewer than `batch_size` events go out only when the flush interval
    runs out (or on a flush): the answer to a full batch does not send what was recorded while
    it was in flight, or a trickle would go out a round trip's worth at a time."""
    arrived: list[int] = []  # the size of each batch, as its request arrives
    release = threading.Event()

    def answer(batch: dict[str, Any]) -> int:
        arrived.append(len(batch["events"]))
        release.wait(10)
        return 200

    collector.answer = answer
    tracer = Tracer(
        service_name="batching",
        server_url=collector.url,
        batch_size=10,
        flush_interval_ms=3_600_000,
    )
    _record(tracer, "event", 10)  # a full batch: sent at once, held by the collector
    _until(lambda: len(arrived) == 1)
    _record(tracer, "event", 3)  # recorded while the batch is in flight
    release.set()
    _until(lambda: len(collector.batches) == 1)  # answered
    time.sleep(0.1)  # time for a second request, which must not come (this can only miss one)
    assert arrived == [10], "the 3 events wait for the interval"
    assert tracer.flush(timeout=5)
    assert arrived == [10, 3]
    assert len(collector.events) == 13
    tracer.shutdown(1)


def test_while_the_collector_fails_one_request_is_in_flight(no_retry_delay: Mock) -> None:
    """Three batches in flight are answered 503: the collector fails, so the retries go one
    at a time; the first delivery opens the three slots again."""
    lock = threading.Lock()
    in_progress = [0]
    started_with: list[int] = []
    """Calls in progress when each call started, itself included."""
    first_three, recovered = threading.Event(), threading.Event()

    def sender(body: bytes, headers: dict[str, str], timeout: float) -> SendResult:
        with lock:
            in_progress[0] += 1
            started_with.append(in_progress[0])
            call = len(started_with)
            if in_progress[0] == 3:
                first_three.set()
        try:
            if call <= 3:  # the first three, in flight together
                first_three.wait(10)
                return SendResult(503)
            if call <= 6:  # the collector still fails: retries
                return SendResult(503)
            if call == 7:  # and takes a batch again
                return SendResult(200)
            recovered.wait(10)  # held until the slots are seen full again
            return SendResult(200)
        finally:
            with lock:
                in_progress[0] -= 1

    transport = _transport(sender, batch_size=1, flush_interval_ms=60_000, max_retries=None)
    for index in range(3):
        transport.enqueue(_event(index))
    _until(lambda: len(started_with) >= 9)  # the two batches still held, after the delivery
    for index in range(3, 6):
        transport.enqueue(_event(index))
    _until(lambda: in_progress[0] == 3)
    recovered.set()
    assert transport.flush(timeout=10)
    assert started_with[:3] == [1, 2, 3]
    assert started_with[3:7] == [1, 1, 1, 1]  # while failing: alone, each one
    assert max(started_with[7:]) == 3
    stats = transport.stats()
    assert (stats.sent, stats.retries, stats.dropped, stats.queued) == (6, 6, 0, 0)
    transport.shutdown(1)


def test_the_default_transport_posts_three_batches_at_once(busy_collector: FakeCollector) -> None:
    """Real HTTP: the collector stand-in holds each request until three are open at once,
    which only three connections can do."""
    arrived = threading.Semaphore(0)
    all_three = threading.Event()
    lock = threading.Lock()
    open_requests = [0]

    def answer(batch: dict[str, Any]) -> int:
        with lock:
            open_requests[0] += 1
            if open_requests[0] == 3:
                all_three.set()
        arrived.release()
        all_three.wait(10)
        return 200

    busy_collector.answer = answer
    tracer = Tracer(
        service_name="parallel", server_url=busy_collector.url, batch_size=10, flush_interval_ms=20
    )
    _record(tracer, "event", 60)
    assert tracer.flush(timeout=20)
    assert all_three.is_set(), "never three requests at once"
    assert len(busy_collector.events) == 60
    tracer.shutdown(1)
