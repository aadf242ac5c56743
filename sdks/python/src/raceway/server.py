"""The lifecycle of one incoming request, the same for every server integration: extract,
start an execution context, record `request_received`, set the response headers, record
errors and `response_sent` (spec 2.1, 2.6, 4)."""

from __future__ import annotations

import contextvars
import threading
import time

from raceway.context import ClockTick, ExecutionContext
from raceway.diagnostics import logger
from raceway.event_fields import error_data, event_method, event_path, event_route, event_status
from raceway.propagation import HEADER_TRACE_ID, HEADER_VC, HeaderGetter, extract_context
from raceway.tracer import Tracer

RESPONSE_HEADER_NAMES = frozenset({HEADER_TRACE_ID.lower(), HEADER_VC.lower()})

_current_request: contextvars.ContextVar[ServerRequest | None] = contextvars.ContextVar(
    "raceway_server_request", default=None
)


class ServerRequest:
    """One request being handled. Integrations call `response_headers` when the status line
    is written and `finish` when the response is done (or failed)."""

    __slots__ = ("_error", "_finished", "_started", "_tick", "ctx", "method")

    def __init__(self, tracer: Tracer, method: str, path: str, get_header: HeaderGetter) -> None:
        self._started = time.perf_counter()
        # Unsampled requests still build a context (it propagates) but record nothing.
        incoming = extract_context(get_header)
        self.ctx: ExecutionContext = tracer.start_context(incoming)
        self.method = event_method(method)
        self._tick: ClockTick | None = None
        self._error: BaseException | None = None
        self._finished = False
        if not self.ctx.sampled:
            return  # spec 5.4: no event objects on the unsampled path
        self.ctx.record(
            "request_received",
            {
                "method": self.method,
                "path": event_path(path),
                "route": None,
                "incoming": {"status": incoming.status, "reasons": list(incoming.reasons)},
            },
        )

    def response_headers(self) -> list[tuple[str, str]]:
        """`X-Raceway-Trace-Id` and `X-Raceway-VC`, the clock after the `response_sent`
        increment (spec 2.6), taken now although the event is recorded when the response
        finishes; the event keeps the time of this step (spec 4: the head was written)."""
        if not self.ctx.sampled:
            return [(HEADER_TRACE_ID, self.ctx.trace_id)]  # no clock to send (spec 5.4)
        if self._tick is None:
            self._tick = self.ctx.tick()
        return [(HEADER_TRACE_ID, self.ctx.trace_id), (HEADER_VC, self._tick.header)]

    def error(self, error: BaseException) -> None:
        """An exception escaped the handler (or the framework reported one): an `error` event
        now, and the error on `response_sent`. Recorded once per exception."""
        if self._finished or error is self._error:
            return
        self._error = error
        self.ctx.record("error", error_data(error))

    def finish(self, status: int | None, route: str | None = None) -> None:
        """Records `response_sent` once."""
        if self._finished:
            return
        self._finished = True
        unmerged = self.ctx.open_manual_calls()
        if unmerged:
            warn_unmerged_calls(unmerged)
        if not self.ctx.sampled:
            return
        code = event_status(status)
        data: dict[str, object] = {
            "method": self.method,
            "route": event_route(route or self.ctx.route),
            "status": code if code is not None else 500,
            "duration_ms": round((time.perf_counter() - self._started) * 1000, 3),
        }
        if self._error is not None:
            data["error"] = error_data(self._error)
        self.ctx.record("response_sent", data, tick=self._tick)


_unmerged_warned = threading.Event()


def warn_unmerged_calls(count: int) -> None:
    """A request ended with manual calls never ended (spec 2.7): said once per process,
    without debug, because the trace is wrong in a way nobody would notice: the callee's clock
    was never merged, so what followed the call looks concurrent with what the callee did."""
    if _unmerged_warned.is_set():
        return
    _unmerged_warned.set()
    logger.warning(
        "raceway: a request ended with %d call(s) made with get_trace_headers() that"
        " merge_response_headers() never ended: the callee's clock was not merged, so what"
        " this service did after the call looks concurrent with what the callee did (and"
        " reads after it like races). Pass each response's headers:"
        " raceway.merge_response_headers(response.headers, request=headers)",
        count,
    )


def record_server_error(error: BaseException) -> None:
    """Reports an exception that the framework turned into a 500 itself (Flask's and Django's
    `got_request_exception`), so the request's `response_sent` names it."""
    request = _current_request.get()
    if request is not None:
        request.error(error)
