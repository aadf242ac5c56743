"""Injection of the outgoing context into a carrier (spec 2.5)."""

from __future__ import annotations

from dataclasses import dataclass

from raceway.clock import VectorClock, encode_clock
from raceway.ids import is_valid_span_id, is_valid_trace_id
from raceway.propagation.carrier import (
    HEADER_TRACE_ID,
    HEADER_TRACEPARENT,
    HEADER_TRACESTATE,
    HEADER_VC,
    HeaderSetter,
)
from raceway.propagation.traceparent import PROPAGATED_FLAGS, format_traceparent
from raceway.sampling import is_sampled


@dataclass(frozen=True)
class OutgoingContext:
    """What an outgoing call carries."""

    trace_id: str
    span_id: str
    """The client call's span id, sent as the parent id in `traceparent`."""
    clock: VectorClock
    """The context's clock, already incremented for this call."""
    own: str | None = None
    clock_dropped: int = 0
    tracestate: str | None = None
    trace_flags: str = "01"
    """The context's flags (spec 2.2); without the sampled bit no clock is sent (spec 5.4)."""


def trace_header_values(ctx: OutgoingContext) -> list[tuple[str, str]]:
    """The headers an outgoing call carries, in the order they are written; empty for a context
    without a valid trace id and span id. Never raises."""
    try:
        if not (is_valid_trace_id(ctx.trace_id) and is_valid_span_id(ctx.span_id)):
            return []
        if ctx.trace_flags not in PROPAGATED_FLAGS:
            return []
        values = [(HEADER_TRACE_ID, ctx.trace_id)]
        if is_sampled(ctx.trace_flags):
            values.append((HEADER_VC, encode_clock(ctx.clock, ctx.own, ctx.clock_dropped)))
        values.append(
            (HEADER_TRACEPARENT, format_traceparent(ctx.trace_id, ctx.span_id, ctx.trace_flags))
        )
        if isinstance(ctx.tracestate, str) and ctx.tracestate:
            values.append((HEADER_TRACESTATE, ctx.tracestate))
    except Exception:
        # Not a clock, or an object that raises on access: send nothing rather than half.
        return []
    return values


def inject_context(ctx: OutgoingContext, set_header: HeaderSetter) -> None:
    """Writes the trace headers through a setter that replaces existing values. Never raises.

    >>> headers: dict[str, str] = {}
    >>> from raceway.propagation.carrier import headers_into_mapping
    >>> inject_context(OutgoingContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
    ...     VectorClock({"api#1f3a9c07": 3})), headers_into_mapping(headers))
    >>> headers["X-Raceway-VC"]
    '{"api#1f3a9c07":3}'
    """
    for name, value in trace_header_values(ctx):
        try:
            set_header(name, value)
        except Exception:
            # The carrier refused (a frozen object): the call goes on without this header.
            continue
