"""Small helpers over recorded events."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from raceway import Tracer
from tests.servers import FakeCollector

Event = dict[str, Any]


def _responses_complete(events: list[Event]) -> bool:
    return len(of_kind(events, "response_sent")) >= len(of_kind(events, "request_received"))


def flushed_events(
    tracer: Tracer,
    collector: FakeCollector,
    until: Callable[[list[Event]], bool] = _responses_complete,
) -> list[Event]:
    """The events at the collector once `until` holds (by default: every request has its
    `response_sent`, which a server records after the client may already have its answer)."""
    deadline = time.monotonic() + 5
    while True:
        assert tracer.flush(timeout=5), "the transport did not flush"
        events = collector.events
        if until(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.01)


def of_kind(events: list[Event], kind: str) -> list[Event]:
    return [event for event in events if event["kind"] == kind]


def one_event(events: list[Event], kind: str, service: str) -> Event:
    """The one event of `kind` that `service` recorded (fails when there is none or more)."""
    found = [e for e in of_kind(events, kind) if e["service"] == service]
    assert len(found) == 1, (kind, service, found)
    return found[0]


def happens_before(a: Event, b: Event) -> bool:
    """a -> b by the clocks (spec 3.5): every entry of a <= b's, and they differ."""
    keys = a["clock"].keys() | b["clock"].keys()
    le = all(a["clock"].get(k, 0) <= b["clock"].get(k, 0) for k in keys)
    return le and a["clock"] != b["clock"]
