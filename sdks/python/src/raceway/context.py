"""Execution contexts on `contextvars` (spec 3.1, 3.2): one sequential thread of work, the
handling of one request or a branch forked explicitly, with its own clock component."""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, Protocol

from raceway.clock import VectorClock, encode_clock_entries, format_clock
from raceway.context_owner import ContextOwner, Event
from raceway.ids import new_component, new_event_id

__all__ = [
    "ClockTick",
    "ContextOwner",
    "Event",
    "ExecutionContext",
    "ManualCall",
    "current_context",
    "use_context",
]

MAX_OPEN_MANUAL_CALLS = 256


class ManualCall(Protocol):
    """A client call opened by `get_trace_headers` (see `raceway.client_call.ClientCall`)."""

    def finish(self, status: int | None, get: Any, error: BaseException | None = None) -> bool: ...
    def fail(self, error: BaseException) -> None: ...


_current: contextvars.ContextVar[ExecutionContext | None] = contextvars.ContextVar(
    "raceway_execution_context", default=None
)


class ClockTick(NamedTuple):
    """An increment of a context's own component and the snapshot after it: the clock an event
    carries (at most 64 entries) and how many entries the snapshot lacks. (A NamedTuple: one is
    made per event, and a frozen dataclass costs several times more to build.)"""

    entries: dict[str, int]
    dropped: int
    # When the step was taken: the event's time. An event recorded later with this tick (a
    # response_sent, whose clock went out with the response head) keeps the time of the step,
    # so it is never stamped after the caller already had the response.
    ts_us: int

    @property
    def header(self) -> str:
        """The snapshot as `X-Raceway-VC` carries it (with the `~dropped` marker)."""
        return format_clock(self.entries, self.dropped)


_UNSET: Any = object()


class ExecutionContext:
    """One sequential thread of work with its own clock component. Every event it records
    increments that component and carries a snapshot of the clock (spec 3.2).

    Server middleware creates one per request; `fork` creates branches. Applications normally
    only read the current one through `current_context()`. The methods are thread-safe, since
    a context can be handed to a thread pool without forking.

    `owner` is the tracer that made the context, seen through the `ContextOwner` protocol:
    where events go and whether calls get trace headers.
    """

    __slots__ = (
        "_lock",
        "_manual_calls",
        "clock",
        "clock_dropped",
        "component",
        "name",
        "owner",
        "parent_span_id",
        "route",
        "sampled",
        "span_id",
        "trace_flags",
        "trace_id",
        "tracestate",
    )

    def __init__(
        self,
        owner: ContextOwner,
        *,
        trace_id: str,
        span_id: str,
        parent_span_id: str | None,
        component: str,
        clock: VectorClock,
        clock_dropped: int = 0,
        tracestate: str | None = None,
        trace_flags: str = "01",
        sampled: bool = True,
        name: str | None = None,
    ) -> None:
        self.owner = owner
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.component = component
        self.clock = clock
        self.clock_dropped = clock_dropped
        self.tracestate = tracestate
        self.trace_flags = trace_flags
        self.sampled = sampled
        self.name = name
        self.route: str | None = None
        """The route template of the request being handled, when the framework or the
        application (`set_route`) names it."""
        self._lock = threading.Lock()
        self._manual_calls: deque[tuple[dict[str, str], ManualCall]] | None = None

    @property
    def tracer(self) -> ContextOwner:
        """The tracer that made the context (the same object as `owner`), typed as the
        `ContextOwner` protocol; kept for code written before `owner`."""
        return self.owner

    def open_manual_call(self, headers: dict[str, str], call: ManualCall) -> None:
        """Remembers a call made with `get_trace_headers` until its response is merged; at most
        256 per context, the oldest forgotten beyond (spec 2.7)."""
        with self._lock:
            if self._manual_calls is None:
                self._manual_calls = deque(maxlen=MAX_OPEN_MANUAL_CALLS)
            self._manual_calls.append((headers, call))

    def open_manual_calls(self) -> int:
        """How many calls made with `get_trace_headers` were not ended yet."""
        with self._lock:
            return len(self._manual_calls) if self._manual_calls else 0

    def close_manual_call(self, headers: object = None) -> ManualCall | None:
        """The manual call whose headers object is `headers`, else the oldest one still open."""
        with self._lock:
            calls = self._manual_calls
            if not calls:
                return None
            for index, (sent, call) in enumerate(calls):
                if headers is None or sent is headers:
                    del calls[index]
                    return call
            return None

    def tick(self) -> ClockTick:
        """Increments the own component and returns the snapshot, for an event recorded later
        with `record(..., tick=tick)`. Never raises."""
        with self._lock:
            self.clock.increment(self.component)
            entries, dropped = encode_clock_entries(self.clock, self.component, self.clock_dropped)
        return ClockTick(entries, dropped, time.time_ns() // 1000)

    def record(
        self,
        kind: str,
        data: dict[str, Any],
        *,
        span_id: str | None = None,
        parent_span_id: str | None = _UNSET,
        tick: ClockTick | None = None,
    ) -> Event | None:
        """Records one event: increments the own component (unless given the `tick` taken for
        it), snapshots the clock and hands the event to the transport. Returns the event, or
        None in an unsampled context, which records nothing and keeps its clock as it is (spec
        5.4). Never raises."""
        if not self.sampled:
            return None
        step = tick if tick is not None else self.tick()
        event: Event = {
            "id": new_event_id(),
            "trace_id": self.trace_id,
            "span_id": span_id if span_id is not None else self.span_id,
            "parent_span_id": self.parent_span_id if parent_span_id is _UNSET else parent_span_id,
            "service": self.owner.service,
            "instance": self.owner.instance,
            "component": self.component,
            "ts_us": step.ts_us,
            "kind": kind,
            "clock": step.entries,
            "data": data,
        }
        if step.dropped > 0:
            event["clock_dropped"] = step.dropped
        try:  # noqa: SIM105 - on every event; contextlib.suppress costs an object per call
            self.owner.emit(event)
        except Exception:
            pass  # the application never pays for a transport problem
        return event

    def merge_clock(self, remote: VectorClock, dropped: int = 0) -> None:
        """Merges a clock received from elsewhere (a response, a joined branch): element-wise
        maximum (spec 2.6). A truncated remote clock marks this context truncated."""
        with self._lock:
            self.clock.merge(remote)
            if isinstance(dropped, int) and dropped > self.clock_dropped:
                self.clock_dropped = dropped

    def fork_child(self, name: str | None = None) -> ExecutionContext:
        """Starts a concurrent branch: records `fork` here and returns the child, whose clock is
        this clock after that event (spec 3.2). Prefer `raceway.fork`, which also joins."""
        component = new_component(self.owner.service)
        self.record("fork", {"child": component})
        with self._lock:
            clock = self.clock.copy()
        return ExecutionContext(
            self.owner,
            trace_id=self.trace_id,
            span_id=self.span_id,
            parent_span_id=self.parent_span_id,
            component=component,
            clock=clock,
            clock_dropped=self.clock_dropped,
            tracestate=self.tracestate,
            trace_flags=self.trace_flags,
            sampled=self.sampled,
            name=name,
        )

    def join_child(self, child: ExecutionContext) -> None:
        """Ends a branch made by `fork_child`: merges its clock here and records `join`."""
        with child._lock:
            clock = child.clock.copy()
        self.merge_clock(clock, child.clock_dropped)
        self.record("join", {"child": child.component})


def current_context() -> ExecutionContext | None:
    """The execution context of the code running now, or None outside a traced request."""
    return _current.get()


@contextmanager
def use_context(ctx: ExecutionContext | None) -> Iterator[ExecutionContext | None]:
    """Makes `ctx` the current context inside the block (and what it awaits or calls)."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
