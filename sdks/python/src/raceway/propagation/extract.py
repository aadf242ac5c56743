"""Extraction of the incoming context from request headers (spec 2.1-2.4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from raceway.clock import ClockRejected, VectorClock, decode_clock
from raceway.ids import normalize_trace_id
from raceway.propagation.carrier import (
    Conflict,
    HeaderGetter,
    Single,
    header_copies,
    safe_get,
    single_header,
)
from raceway.propagation.traceparent import read_traceparent_header
from raceway.propagation.tracestate import parse_tracestate

RejectionReason = Literal[
    "trace_id_invalid",
    "traceparent_invalid",
    "duplicate_conflict",
    "trace_id_mismatch",
    "vc_invalid",
    "vc_oversized",
    "tracestate_invalid",
]
REJECTION_REASONS: tuple[RejectionReason, ...] = (
    "trace_id_invalid",
    "traceparent_invalid",
    "duplicate_conflict",
    "trace_id_mismatch",
    "vc_invalid",
    "vc_oversized",
    "tracestate_invalid",
)
"""Every reason, in the order they are reported (spec 2.4)."""

IncomingStatus = Literal["accepted", "degraded", "rejected", "absent"]


@dataclass(frozen=True)
class ExtractedContext:
    """What an incoming request carried, ready to start the server's execution context."""

    trace_id: str | None
    """The trace to join, or None to start a new trace."""
    parent_span_id: str | None
    clock: VectorClock | None
    """The incoming clock, when a trace is joined and `X-Raceway-VC` was valid."""
    clock_dropped: int
    tracestate: str | None
    status: IncomingStatus
    reasons: list[RejectionReason] = field(default_factory=list)
    trace_flags: str | None = None
    """The flags to propagate (spec 2.2), from the `traceparent` of the joined trace; None
    without one (the decision is then taken locally, spec 5.2)."""


def _read_trace_id_header(value: object) -> tuple[str | None, RejectionReason | None]:
    """`X-Raceway-Trace-Id`: (trace id, None), (None, reason), or (None, None) when absent."""
    single = single_header(header_copies(value, split_commas=True))
    if isinstance(single, Conflict):
        return None, "duplicate_conflict"
    if not isinstance(single, Single):
        return None, None
    trace_id = normalize_trace_id(single.value)
    return (trace_id, None) if trace_id is not None else (None, "trace_id_invalid")


def extract_context(get: HeaderGetter) -> ExtractedContext:
    """Reads the incoming trace context (spec 2.1). Never raises: whatever is malformed is left
    out and named in `reasons`.

    >>> from raceway.propagation.carrier import headers_from_mapping
    >>> extract_context(headers_from_mapping({})).status
    'absent'
    """
    try:
        return _extract(get)
    except Exception:  # pragma: no cover - the parsers below do not raise; this is a seatbelt
        return _empty("rejected", [])


def _extract(get: HeaderGetter) -> ExtractedContext:
    header_id, header_reason = _read_trace_id_header(safe_get(get, "x-raceway-trace-id"))
    traceparent, parent_reason = read_traceparent_header(safe_get(get, "traceparent"))
    vc_copies = header_copies(safe_get(get, "x-raceway-vc"), split_commas=False)
    tracestate_copies = header_copies(safe_get(get, "tracestate"), split_commas=False)

    reasons: set[RejectionReason] = {
        reason for reason in (header_reason, parent_reason) if reason is not None
    }
    if (
        header_id is None
        and header_reason is None
        and traceparent is None
        and parent_reason is None
        and not vc_copies
        and not tracestate_copies
    ):
        return _empty("absent", [])

    trace_id: str | None = None
    if header_id is not None:
        trace_id = header_id
        if traceparent is not None and traceparent.trace_id != trace_id:
            reasons.add("trace_id_mismatch")
    elif traceparent is not None:
        trace_id = traceparent.trace_id
    if trace_id is None:
        return _empty("rejected", _ordered(reasons))
    # A traceparent of another trace names a span of that trace: neither its parent id nor its
    # tracestate belong here.
    same_trace = (
        traceparent if traceparent is not None and traceparent.trace_id == trace_id else None
    )

    clock: VectorClock | None = None
    clock_dropped = 0
    vc = single_header(vc_copies)
    if isinstance(vc, Conflict):
        reasons.add("duplicate_conflict")
    elif isinstance(vc, Single):
        decoded = decode_clock(vc.value)
        if isinstance(decoded, ClockRejected):
            reasons.add(decoded.reason)
        else:
            clock, clock_dropped = decoded.clock, decoded.dropped

    tracestate: str | None = None
    if same_trace is not None and tracestate_copies:
        parsed = parse_tracestate(tracestate_copies)
        if parsed.ok:
            tracestate = parsed.value
        else:
            reasons.add("tracestate_invalid")

    return ExtractedContext(
        trace_id=trace_id,
        parent_span_id=same_trace.parent_id if same_trace is not None else None,
        clock=clock,
        clock_dropped=clock_dropped,
        tracestate=tracestate,
        status="degraded" if reasons else "accepted",
        reasons=_ordered(reasons),
        trace_flags=same_trace.propagated_flags if same_trace is not None else None,
    )


def _empty(status: IncomingStatus, reasons: list[RejectionReason]) -> ExtractedContext:
    return ExtractedContext(None, None, None, 0, None, status, reasons)


def _ordered(reasons: set[RejectionReason]) -> list[RejectionReason]:
    return [reason for reason in REJECTION_REASONS if reason in reasons]
