"""Small helpers over recorded events."""

from __future__ import annotations

from typing import Any

from raceway import Tracer
from tests.servers import FakeCollector

Event = dict[str, Any]


def flushed_events(tracer: Tracer, collector: FakeCollector) -> list[Event]:
    assert tracer.flush(timeout=5), "the transport did not flush"
    return collector.events


def of_kind(events: list[Event], kind: str) -> list[Event]:
    return [event for event in events if event["kind"] == kind]


def happens_before(a: Event, b: Event) -> bool:
    """a -> b by the clocks (spec 3.5): every entry of a <= b's, and they differ."""
    keys = a["clock"].keys() | b["clock"].keys()
    le = all(a["clock"].get(k, 0) <= b["clock"].get(k, 0) for k in keys)
    return le and a["clock"] != b["clock"]
