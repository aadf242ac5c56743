"""`with_lock(name, lock)` takes the application's lock and records it (as Go's WithLock does);
`record_lock_held(name)` only records, and says so in its name."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest

import raceway
from raceway import Tracer
from tests.servers import FakeCollector


def test_concurrent_increments_under_with_lock_lose_nothing(
    tracer: Tracer, collector: FakeCollector
) -> None:
    counter = {"value": 0}
    lock = threading.Lock()
    start = threading.Barrier(10)

    def increment() -> None:
        start.wait()
        with tracer.start_trace(), raceway.with_lock("counter", lock):
            seen = counter["value"]
            raceway.track_state_read("counter", seen)
            time.sleep(0.005)  # without the lock, the others read the same value meanwhile
            counter["value"] = seen + 1
            raceway.track_state_write("counter", seen + 1)

    threads = [threading.Thread(target=increment) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter["value"] == 10
    assert tracer.flush(timeout=5)
    kinds: dict[str, list[str]] = defaultdict(list)
    for event in collector.events:
        kinds[event["trace_id"]].append(event["kind"])
    assert len(kinds) == 10
    assert all(
        k == ["lock_acquire", "state_read", "state_write", "lock_release"] for k in kinds.values()
    )


def test_with_lock_releases_the_lock_when_the_block_raises(tracer: Tracer) -> None:
    lock = threading.Lock()
    with (
        pytest.raises(ValueError, match="boom"),
        tracer.start_trace(),
        raceway.with_lock("l", lock),
    ):
        raise ValueError("boom")
    assert not lock.locked()


def test_with_lock_refuses_a_lock_name_in_place_of_a_lock() -> None:
    with pytest.raises(TypeError, match="takes the lock itself"), raceway.with_lock("l", "l"):  # type: ignore[arg-type]
        pass


def test_record_lock_held_records_without_locking(tracer: Tracer, collector: FakeCollector) -> None:
    with tracer.start_trace(), raceway.record_lock_held("held-elsewhere"):
        raceway.track_state_write("x", 1)
    assert tracer.flush(timeout=5)
    assert [(e["kind"], e["data"].get("lock")) for e in collector.events] == [
        ("lock_acquire", "held-elsewhere"),
        ("state_write", None),
        ("lock_release", "held-elsewhere"),
    ]
