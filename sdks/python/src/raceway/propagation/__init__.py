"""The propagation contract: extraction, injection and the header carriers (spec 2)."""

from raceway.propagation.carrier import (
    HEADER_TRACE_ID,
    HEADER_TRACEPARENT,
    HEADER_TRACESTATE,
    HEADER_VC,
    HeaderGetter,
    HeaderSetter,
    headers_from_mapping,
    headers_into_mapping,
)
from raceway.propagation.extract import (
    REJECTION_REASONS,
    ExtractedContext,
    IncomingStatus,
    RejectionReason,
    extract_context,
)
from raceway.propagation.inject import OutgoingContext, inject_context, trace_header_values
from raceway.propagation.traceparent import Traceparent, format_traceparent, parse_traceparent
from raceway.propagation.tracestate import parse_tracestate

__all__ = [
    "HEADER_TRACEPARENT",
    "HEADER_TRACESTATE",
    "HEADER_TRACE_ID",
    "HEADER_VC",
    "REJECTION_REASONS",
    "ExtractedContext",
    "HeaderGetter",
    "HeaderSetter",
    "IncomingStatus",
    "OutgoingContext",
    "RejectionReason",
    "Traceparent",
    "extract_context",
    "format_traceparent",
    "headers_from_mapping",
    "headers_into_mapping",
    "inject_context",
    "parse_traceparent",
    "parse_tracestate",
    "trace_header_values",
]
