"""The tracer: one service's configuration, its transport, and where contexts start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from raceway.clock import VectorClock
from raceway.config import Config, RacewayOptions, resolve_config
from raceway.context import ExecutionContext, use_context
from raceway.context_owner import Event
from raceway.db.query import QueryCapture
from raceway.diagnostics import Diagnostics
from raceway.ids import is_valid_span_id, new_component, new_span_id, new_trace_id
from raceway.propagation import ExtractedContext
from raceway.sampling import decide_sampling
from raceway.transport import Transport, TransportStats

_tracers: dict[tuple[str, str, str | None], Tracer] = {}
_tracers_lock = threading.Lock()
_default: Tracer | None = None


class Tracer:
    """One service as Raceway sees it: the owner (`raceway.context_owner.ContextOwner`) of the
    execution contexts it starts.

    >>> tracer = Tracer(service_name="checkout", server_url="http://collector:8080")
    """

    def __init__(self, *, transport: Transport | None = None, **options: Any) -> None:
        self.config: Config = resolve_config(options)  # type: ignore[arg-type]
        self.service = self.config.service_name
        self.instance = self.config.instance
        self.disabled = self.config.disabled
        self.query_capture = QueryCapture(
            enabled=self.config.capture_queries and not self.disabled,
            values=self.config.capture_values,
            digest_key=self.config.digest_key,
        )
        self.transport: Transport | None = None
        self.diagnostics = Diagnostics(self.config.debug)
        if not self.disabled:
            self.transport = transport if transport is not None else Transport(self.config)

    @classmethod
    def from_options(cls, **options: Any) -> Tracer:
        """The tracer for these options, shared by every caller that passes the same service,
        collector and key (two middlewares of one service then share one transport)."""
        config = resolve_config(options)  # type: ignore[arg-type]
        key = (config.service_name, config.server_url, config.api_key)
        with _tracers_lock:
            tracer = _tracers.get(key)
            if tracer is None:
                tracer = cls(**options)
                _tracers[key] = tracer
        return tracer

    def start_context(self, incoming: ExtractedContext | None = None) -> ExecutionContext:
        """A new execution context for a request: joining the incoming trace, or a new one."""
        joined = incoming is not None and incoming.trace_id is not None
        trace_id = (
            incoming.trace_id if incoming is not None and incoming.trace_id else new_trace_id()
        )
        decision = decide_sampling(
            trace_id,
            self.config.sample_rate,
            joined,
            incoming.trace_flags if joined and incoming is not None else None,
        )
        clock = VectorClock()
        dropped = 0
        # An unsampled context never sends its clock: the incoming one is not copied (spec 5.4).
        if decision.sampled and joined and incoming is not None and incoming.clock is not None:
            clock = incoming.clock.copy()
            dropped = incoming.clock_dropped
        parent = incoming.parent_span_id if joined and incoming is not None else None
        return ExecutionContext(
            self,
            trace_id=trace_id,
            span_id=new_span_id(),
            parent_span_id=parent if is_valid_span_id(parent) else None,
            component=new_component(self.service),
            clock=clock,
            clock_dropped=dropped,
            tracestate=incoming.tracestate if joined and incoming is not None else None,
            trace_flags=decision.flags,
            sampled=decision.sampled,
        )

    @contextmanager
    def start_trace(self) -> Iterator[ExecutionContext | None]:
        """Runs a block as the root of a new trace, outside any request (a job, a script).

        >>> with tracer.start_trace():  # doctest: +SKIP
        ...     session.post("http://billing/run")
        """
        if self.disabled:
            yield None
            return
        with use_context(self.start_context()) as ctx:
            yield ctx

    def should_propagate(self, url: str) -> bool:
        """Whether an outgoing call to `url` gets trace headers (`propagate_to`)."""
        return not self.disabled and self.config.propagate_to(url)

    def note_unpropagated(self, url: str) -> None:
        """In debug mode, says once per host that calls to it get no trace headers (spec 6.3)."""
        self.diagnostics.not_propagated(url)

    def should_ignore_path(self, path: str) -> bool:
        return self.config.ignore_path(path)

    def emit(self, event: Event) -> None:
        if self.transport is not None:
            self.transport.enqueue(event)

    def flush(self, timeout: float | None = None) -> bool:
        """Sends what is queued; True when everything went out within `timeout` seconds."""
        return self.transport.flush(timeout) if self.transport is not None else True

    def shutdown(self, timeout: float = 5.0) -> None:
        """Flushes for at most `timeout` seconds and stops the transport."""
        if self.transport is not None:
            self.transport.shutdown(timeout)

    def stats(self) -> TransportStats:
        return self.transport.stats() if self.transport is not None else TransportStats()


def init(**options: Any) -> Tracer:
    """Configures the process's default tracer (used by integrations given no options) and
    returns it. Options as `RacewayOptions`; the environment fills in the rest."""
    global _default
    _default = Tracer.from_options(**options)
    return _default


def tracer_for(tracer: Tracer | None, options: RacewayOptions | dict[str, Any]) -> Tracer:
    """The tracer an integration uses: the one given, else one for its options, else the
    default (`init`), else one configured from the environment alone."""
    global _default
    if tracer is not None:
        return tracer
    if options:
        found = Tracer.from_options(**options)
        if _default is None:
            _default = found
        return found
    if _default is None:
        _default = Tracer.from_options()
    return _default


def default_tracer() -> Tracer | None:
    return _default
