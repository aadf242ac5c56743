"""Execution contexts across asyncio tasks and threads: fork, join, submit, bind."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

import raceway
from raceway import Tracer, current_context
from tests.helpers import Event, flushed_events, happens_before, of_kind
from tests.servers import FakeCollector


def _until(count: int, kind: str = "state_write") -> Callable[[list[Event]], bool]:
    return lambda events: len(of_kind(events, kind)) >= count


def _writes(tracer: Tracer, collector: FakeCollector, count: int) -> list[Event]:
    return of_kind(flushed_events(tracer, collector, until=_until(count)), "state_write")


def test_forked_asyncio_tasks_get_concurrent_clocks_and_are_joined(
    tracer: Tracer, collector: FakeCollector
) -> None:
    async def branch(name: str) -> str:
        await asyncio.sleep(0.01)
        raceway.track_state_write("order:1", name)
        ctx = current_context()
        assert ctx is not None
        return ctx.component

    async def handler() -> list[str]:
        with tracer.start_trace():
            raceway.track_state_read("order:1", None)
            components = await asyncio.gather(raceway.fork(branch("a")), raceway.fork(branch("b")))
            raceway.track_state_read("order:1", "after")
            return list(components)

    components = asyncio.run(handler())
    events = flushed_events(tracer, collector, until=_until(2, "state_read"))
    before, after = of_kind(events, "state_read")
    a, b = of_kind(events, "state_write")
    assert len(set(components)) == 2
    assert {a["component"], b["component"]} == set(components)
    assert not happens_before(a, b)
    assert not happens_before(b, a)
    for write in (a, b):
        assert happens_before(before, write)
        assert happens_before(write, after)
    assert [e["data"]["child"] for e in of_kind(events, "fork")] == components
    assert sorted(e["data"]["child"] for e in of_kind(events, "join")) == sorted(components)


def test_tasks_of_concurrent_requests_have_concurrent_clocks(
    tracer: Tracer, collector: FakeCollector
) -> None:
    async def request(value: int) -> None:
        with tracer.start_trace():
            raceway.track_state_read("counter", value)
            await asyncio.sleep(0.01)
            raceway.track_state_write("counter", value + 1)

    async def main() -> None:
        await asyncio.gather(*(request(i) for i in range(3)))

    asyncio.run(main())
    writes = _writes(tracer, collector, 3)
    assert len({write["component"] for write in writes}) == 3
    for first in writes:
        for second in writes:
            if first is not second:
                assert not happens_before(first, second)


def test_a_branch_that_raises_is_still_joined(tracer: Tracer, collector: FakeCollector) -> None:
    async def failing() -> None:
        raise ValueError("no")

    async def main() -> None:
        with tracer.start_trace():
            with pytest.raises(ValueError, match="no"):
                await raceway.fork(failing())
            ctx = current_context()
            assert ctx is not None

    asyncio.run(main())
    events = flushed_events(tracer, collector, until=lambda e: bool(of_kind(e, "join")))
    assert len(of_kind(events, "fork")) == 1
    assert len(of_kind(events, "join")) == 1


def test_submit_carries_the_context_into_a_thread_pool(
    tracer: Tracer, collector: FakeCollector
) -> None:
    def work(value: int) -> str:
        raceway.track_state_write("cell", value)
        ctx = current_context()
        assert ctx is not None
        return ctx.trace_id

    with tracer.start_trace() as root, ThreadPoolExecutor(2) as pool:
        assert root is not None
        trace_ids = [raceway.submit(pool, work, i).result() for i in range(2)]
        # A plain submit does not carry the context: the pool thread has none.
        assert pool.submit(current_context).result() is None
    assert trace_ids == [root.trace_id, root.trace_id]
    writes = _writes(tracer, collector, 2)
    assert len({write["component"] for write in writes}) == 2


def test_bind_carries_the_context_into_a_thread(tracer: Tracer, collector: FakeCollector) -> None:
    seen: list[str | None] = []

    def work() -> None:
        ctx = current_context()
        seen.append(ctx.trace_id if ctx is not None else None)
        raceway.track_state_write("cell", 1)

    with tracer.start_trace() as root:
        assert root is not None
        thread = threading.Thread(target=raceway.bind(work))
        thread.start()
        thread.join()
    assert seen == [root.trace_id]
    assert _writes(tracer, collector, 1)[0]["component"] != root.component


def test_fork_outside_a_context_just_runs() -> None:
    assert raceway.fork(lambda: 42) == 42

    async def value() -> int:
        return 7

    assert asyncio.run(raceway.fork(value())) == 7
