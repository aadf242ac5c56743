"""One outgoing call, the same for every client library (spec 2.5, 2.6, 4): `request_sent`,
the headers to inject, then `response_received` with the callee's clock merged."""

from __future__ import annotations

import time

from raceway.clock import ClockRejected, VectorClock, decode_clock
from raceway.context import ExecutionContext, current_context
from raceway.event_fields import error_data, event_method, event_status, event_target
from raceway.ids import new_span_id, normalize_trace_id
from raceway.propagation import HeaderGetter, OutgoingContext, trace_header_values
from raceway.propagation.carrier import Single, header_copies, safe_get, single_header


def merge_response_clock(ctx: ExecutionContext, get: HeaderGetter) -> bool:
    """Merges the clock a callee sent back (spec 2.6) when the response names the same trace;
    True when a clock was merged. An absent, foreign or invalid clock is ignored. Never raises."""
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
    """A client call in progress: a span of its own, child of the context's span.

    >>> call = ClientCall.start("GET", "http://inventory/items/1")  # doctest: +SKIP
    >>> for name, value in call.headers: request.headers[name] = value  # doctest: +SKIP
    >>> call.finish(response.status_code, lambda name: response.headers.get(name))  # doctest: +SKIP
    """

    __slots__ = ("_started", "ctx", "headers", "host", "method", "span_id", "url")

    def __init__(self, ctx: ExecutionContext, method: str, url: str) -> None:
        self.ctx = ctx
        self.method = event_method(method)
        self.url, self.host = event_target(url)
        self.span_id = new_span_id()
        self._started = time.perf_counter()
        tick = ctx.tick()
        ctx.record(
            "request_sent",
            {"method": self.method, "url": self.url, "host": self.host},
            span_id=self.span_id,
            parent_span_id=ctx.span_id,
            tick=tick,
        )
        self.headers: list[tuple[str, str]] = []
        """The trace headers to set on the request (replacing), empty when `propagate_to`
        excludes the target. The clock is the one after `request_sent`."""
        if ctx.tracer.should_propagate(url):
            self.headers = trace_header_values(
                OutgoingContext(
                    trace_id=ctx.trace_id,
                    span_id=self.span_id,
                    clock=VectorClock(tick.entries),
                    own=ctx.component,
                    clock_dropped=tick.dropped,
                    tracestate=ctx.tracestate,
                    trace_flags=ctx.trace_flags,
                )
            )

    @classmethod
    def start(cls, method: str, url: str) -> ClientCall | None:
        """Starts a call from the current context; None outside one (nothing to record)."""
        ctx = current_context()
        if ctx is None or ctx.tracer.disabled:
            return None
        try:
            return cls(ctx, method, url)
        except Exception:
            return None

    def _duration_ms(self) -> float:
        return round((time.perf_counter() - self._started) * 1000, 3)

    def finish(self, status: int, get: HeaderGetter) -> None:
        """The response arrived: merge its clock, then record `response_received`."""
        try:
            remote = merge_response_clock(self.ctx, get)
            data: dict[str, object] = {
                "method": self.method,
                "url": self.url,
                "host": self.host,
                "duration_ms": self._duration_ms(),
                "remote_clock": remote,
            }
            code = event_status(status)
            if code is not None:
                data["status"] = code
            self.ctx.record(
                "response_received", data, span_id=self.span_id, parent_span_id=self.ctx.span_id
            )
        except Exception:
            pass

    def fail(self, error: BaseException) -> None:
        """The call failed before a response: `response_received` with the error."""
        try:
            self.ctx.record(
                "response_received",
                {
                    "method": self.method,
                    "url": self.url,
                    "host": self.host,
                    "duration_ms": self._duration_ms(),
                    "error": error_data(error),
                },
                span_id=self.span_id,
                parent_span_id=self.ctx.span_id,
            )
        except Exception:
            pass

    def body_failed(self, error: BaseException) -> None:
        """The body broke off after the response was handed over: an `error` in the call's span."""
        try:
            self.ctx.record(
                "error", error_data(error), span_id=self.span_id, parent_span_id=self.ctx.span_id
            )
        except Exception:
            pass


