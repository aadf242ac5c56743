//! Propagation over HTTP headers (spec 2): reading the incoming context, writing the outgoing one.

mod carrier;
mod extract;
mod inject;
mod traceparent;
mod tracestate;

pub use carrier::{
    HeaderSink, HeaderSource, HEADER_TRACEPARENT, HEADER_TRACESTATE, HEADER_TRACE_ID, HEADER_VC,
};
pub use extract::{extract, ExtractedContext, IncomingStatus, RejectionReason};
pub use inject::{inject, OutgoingContext};
pub use traceparent::{format_traceparent, parse_traceparent, Traceparent};
pub use tracestate::parse_tracestate;

pub(crate) use carrier::{header_copies, single_header, SingleHeader};
