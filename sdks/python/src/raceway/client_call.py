"""One outgoing call, the same for every client library and for manual calls (spec 2.5-2.7):
`request_sent` in a span of its own, the headers to inject, then `response_received` with the
callee's clock merged."""

from __future__ import annotations

import time
from contextlib import suppress

from raceway.clock import ClockRejected, VectorClock, decode_clock
from raceway.context import ExecutionContext, current_context
from raceway.event_fields import error_data, event_method, event_status, event_target
from raceway.ids import new_span_id, normalize_trace_id
from raceway.propagation import HeaderGetter, OutgoingContext, trace_header_values
from raceway.propagation.carrier import Single, header_copies, safe_get, single_header

UNKNOWN_TARGET = "unknown"


def merge_response_clock(ctx: ExecutionContext, get: HeaderGetter) -> bool:
    """Merges the clock a callee sent back (spec 2.6) into a sampled context when the response
    names the same trace; True when a clock was merged. An absent, foreign or invalid clock is
    ignored. Never raises."""
    if not ctx.sampled:
        return False
    try:
        trace_id = single_header(header_copies(safe_get(get, "x-raceway-trace-id"), True))
        if not isinstance(trace_id, Single) or normalize_trace_id(trace_id.value) != ctx.trace_id:
            return False
        vc = single_header(header_copies(safe_get(get, "x-raceway-vc"), False))
        if not isinstance(vc, Single):
            return False
        decoded = decode_clock(vc.value)
        if isinstance(decoded, ClockRejected):
            return False
        ctx.merge_clock(decoded.clock, decoded.dropped)
        return True
    except Exception:
        return False


class ClientCall:
    """A client call in progress: a span of its own (a new span id per call), child of the
    context's span. In an unsampled context it records nothing and sends no clock.

    >>> call = ClientCall.start("GET", "http://inventory/items/1")  # doctest: +SKIP
    >>> for name, value in call.headers: request.headers[name] = value  # doctest: +SKIP
    >>> call.finish(response.status_code, response.headers.get)  # doctest: +SKIP
    """

    __slots__ = ("_started", "ctx", "headers", "host", "method", "span_id", "url")

    def __init__(
        self, ctx: ExecutionContext, method: str | None, url: str | None, propagate: bool
    ) -> None:
        self.ctx = ctx
        self.method = event_method(method)
        if url:
            self.url, self.host = event_target(url)
        else:
            self.url = self.host = UNKNOWN_TARGET
        self.span_id = new_span_id()
        self._started = time.perf_counter()
        clock = VectorClock()
        dropped = 0
        if ctx.sampled:
            tick = ctx.tick()
            # A host outside `propagate_to` gets no headers: said in the event, so that the
            # collector can name the setting when the callee's side of the trace is missing.
            sent: dict[str, object] = {"method": self.method, "url": self.url, "host": self.host}
            if not propagate:
                sent["headers_withheld"] = True
            ctx.record(
                "request_sent",
                sent,
                span_id=self.span_id,
                parent_span_id=ctx.span_id,
                tick=tick,
            )
            clock, dropped = VectorClock(tick.entries), tick.dropped
        self.headers: list[tuple[str, str]] = []
        """The trace headers to set on the request (replacing), empty when `propagate_to`
        excludes the target. The clock is the one after `request_sent`."""
        if propagate:
            self.headers = trace_header_values(
                OutgoingContext(
                    trace_id=ctx.trace_id,
                    span_id=self.span_id,
                    clock=clock,
                    own=ctx.component,
                    clock_dropped=dropped,
                    tracestate=ctx.tracestate,
                    trace_flags=ctx.trace_flags,
                )
            )

    @classmethod
    def start(cls, method: str, url: str) -> ClientCall | None:
        """Starts an instrumented call from the current context (headers only when the
        allow-list takes the target); None outside a context."""
        ctx = current_context()
        if ctx is None or ctx.owner.disabled:
            return None
        try:
            propagate = ctx.owner.should_propagate(url)
            if not propagate:
                ctx.owner.diagnostics.not_propagated(url)
            return cls(ctx, method, url, propagate)
        except Exception:
            return None

    def _duration_ms(self) -> float:
        return round((time.perf_counter() - self._started) * 1000, 3)

    def _data(self) -> dict[str, object]:
        return {
            "method": self.method,
            "url": self.url,
            "host": self.host,
            "duration_ms": self._duration_ms(),
        }

    def finish(
        self, status: int | None, get: HeaderGetter, error: BaseException | None = None
    ) -> bool:
        """The response arrived: merge its clock, then record `response_received` (with the
        error when the application reports one). True when a clock was merged."""
        if not self.ctx.sampled:
            return False
        merged = merge_response_clock(self.ctx, get)
        # Instrumentation never breaks the call it observes (a hostile `str()` of an error).
        with suppress(Exception):
            data = self._data()
            data["remote_clock"] = merged
            code = event_status(status)
            if code is not None:
                data["status"] = code
            if error is not None:
                data["error"] = error_data(error)
            self.ctx.record(
                "response_received", data, span_id=self.span_id, parent_span_id=self.ctx.span_id
            )
        return merged

    def fail(self, error: BaseException) -> None:
        """The call failed before a response: `response_received` with the error."""
        if not self.ctx.sampled:
            return
        with suppress(Exception):
            data = self._data()
            data["error"] = error_data(error)
            self.ctx.record(
                "response_received", data, span_id=self.span_id, parent_span_id=self.ctx.span_id
            )

    def body_failed(self, error: BaseException) -> None:
        """The body broke off after the response was handed over (spec 4, note b): an `error`
        event in the call's span."""
        if not self.ctx.sampled:
            return
        with suppress(Exception):
            self.ctx.record(
                "error", error_data(error), span_id=self.span_id, parent_span_id=self.ctx.span_id
            )
