use crate::clock::{decode_clock, VectorClock};
use crate::ids::normalize_trace_id;

use super::carrier::{header_copies, single_header, HeaderSource, SingleHeader};
use super::traceparent::{parse_traceparent, Traceparent};
use super::tracestate::parse_tracestate;

/// Why (part of) an incoming context was not taken (spec 2.4). The order of the variants is
/// the order reasons are reported in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectionReason {
    TraceIdInvalid,
    TraceparentInvalid,
    DuplicateConflict,
    TraceIdMismatch,
    VcInvalid,
    VcOversized,
    TracestateInvalid,
}

impl RejectionReason {
    /// The reason's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::TraceIdInvalid => "trace_id_invalid",
            RejectionReason::TraceparentInvalid => "traceparent_invalid",
            RejectionReason::DuplicateConflict => "duplicate_conflict",
            RejectionReason::TraceIdMismatch => "trace_id_mismatch",
            RejectionReason::VcInvalid => "vc_invalid",
            RejectionReason::VcOversized => "vc_oversized",
            RejectionReason::TracestateInvalid => "tracestate_invalid",
        }
    }
}

/// How the incoming context was taken (spec 2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncomingStatus {
    /// A trace was joined with no reason.
    Accepted,
    /// A trace was joined, with reasons.
    Degraded,
    /// Headers were present but no trace could be joined.
    Rejected,
    /// None of the four headers was present.
    Absent,
}

impl IncomingStatus {
    /// The status's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            IncomingStatus::Accepted => "accepted",
            IncomingStatus::Degraded => "degraded",
            IncomingStatus::Rejected => "rejected",
            IncomingStatus::Absent => "absent",
        }
    }
}

/// What an incoming request carried (spec 2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractedContext {
    /// The trace to join, or `None` to start a new trace.
    pub trace_id: Option<String>,
    /// The caller's span id, from a `traceparent` of the joined trace.
    pub parent_span_id: Option<String>,
    /// The `traceparent` flags received with the joined trace (sampled and random bits only),
    /// when a `traceparent` of that trace was received.
    pub trace_flags: Option<u8>,
    /// The incoming clock, when a trace is joined and `X-Raceway-VC` was valid.
    pub clock: Option<VectorClock>,
    /// The incoming clock's `~dropped` count, 0 when none.
    pub clock_dropped: u64,
    /// The normalised `tracestate` to pass on.
    pub tracestate: Option<String>,
    pub status: IncomingStatus,
    /// In the order of spec 2.4, each at most once.
    pub reasons: Vec<RejectionReason>,
}

impl Default for ExtractedContext {
    /// No incoming context: a new trace (status `absent`).
    fn default() -> Self {
        ExtractedContext::empty(IncomingStatus::Absent, Vec::new())
    }
}

impl ExtractedContext {
    fn empty(status: IncomingStatus, reasons: Vec<RejectionReason>) -> Self {
        ExtractedContext {
            trace_id: None,
            parent_span_id: None,
            trace_flags: None,
            clock: None,
            clock_dropped: 0,
            tracestate: None,
            status,
            reasons,
        }
    }
}

enum Read<T> {
    Absent,
    Valid(T),
    Invalid,
}

fn read_trace_id(copies: &[&str], reasons: &mut Vec<RejectionReason>) -> Read<String> {
    match single_header(copies) {
        SingleHeader::Absent => Read::Absent,
        SingleHeader::Conflict => {
            reasons.push(RejectionReason::DuplicateConflict);
            Read::Invalid
        }
        SingleHeader::Value(value) => match normalize_trace_id(value) {
            Some(id) => Read::Valid(id),
            None => {
                reasons.push(RejectionReason::TraceIdInvalid);
                Read::Invalid
            }
        },
    }
}

fn read_traceparent(copies: &[&str], reasons: &mut Vec<RejectionReason>) -> Read<Traceparent> {
    match single_header(copies) {
        SingleHeader::Absent => Read::Absent,
        SingleHeader::Conflict => {
            reasons.push(RejectionReason::DuplicateConflict);
            Read::Invalid
        }
        SingleHeader::Value(value) => match parse_traceparent(value) {
            Some(tp) => Read::Valid(tp),
            None => {
                reasons.push(RejectionReason::TraceparentInvalid);
                Read::Invalid
            }
        },
    }
}

/// Reads the incoming trace context (spec 2.1-2.4). Never panics and never fails: whatever is
/// malformed is left out and named in `reasons`.
///
/// ```
/// use raceway_client::propagation::{extract, IncomingStatus};
/// let headers = vec![("X-Raceway-Trace-Id", "4bf92f3577b34da6a3ce929d0e0e4736")];
/// let incoming = extract(&headers);
/// assert_eq!(incoming.status, IncomingStatus::Accepted);
/// assert_eq!(incoming.trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
/// ```
pub fn extract<S: HeaderSource + ?Sized>(headers: &S) -> ExtractedContext {
    let raw_trace_id = headers.header_values("x-raceway-trace-id");
    let raw_traceparent = headers.header_values("traceparent");
    let raw_vc = headers.header_values("x-raceway-vc");
    let raw_tracestate = headers.header_values("tracestate");
    let trace_id_copies = header_copies(&raw_trace_id, true);
    let traceparent_copies = header_copies(&raw_traceparent, true);
    let vc_copies = header_copies(&raw_vc, false);
    let tracestate_copies = header_copies(&raw_tracestate, false);

    let mut reasons = Vec::new();
    let header = read_trace_id(&trace_id_copies, &mut reasons);
    let parent = read_traceparent(&traceparent_copies, &mut reasons);
    let nothing_present = matches!(header, Read::Absent)
        && matches!(parent, Read::Absent)
        && vc_copies.is_empty()
        && tracestate_copies.is_empty();
    if nothing_present {
        return ExtractedContext::empty(IncomingStatus::Absent, Vec::new());
    }

    let traceparent = match parent {
        Read::Valid(tp) => Some(tp),
        _ => None,
    };
    let trace_id = match header {
        Read::Valid(id) => {
            if traceparent.as_ref().is_some_and(|tp| tp.trace_id != id) {
                reasons.push(RejectionReason::TraceIdMismatch);
            }
            Some(id)
        }
        _ => traceparent.as_ref().map(|tp| tp.trace_id.clone()),
    };
    let Some(trace_id) = trace_id else {
        return ExtractedContext::empty(IncomingStatus::Rejected, ordered(reasons));
    };
    // A traceparent of another trace names a span of that trace: neither its parent id, its
    // flags nor its tracestate belong here.
    let same_trace = traceparent.filter(|tp| tp.trace_id == trace_id);

    let mut clock = None;
    let mut clock_dropped = 0;
    match single_header(&vc_copies) {
        SingleHeader::Absent => {}
        SingleHeader::Conflict => reasons.push(RejectionReason::DuplicateConflict),
        SingleHeader::Value(value) => match decode_clock(value) {
            Ok(decoded) => {
                clock = Some(decoded.clock);
                clock_dropped = decoded.dropped;
            }
            Err(error) => reasons.push(match error {
                crate::clock::ClockDecodeError::Invalid => RejectionReason::VcInvalid,
                crate::clock::ClockDecodeError::Oversized => RejectionReason::VcOversized,
            }),
        },
    }

    let mut tracestate = None;
    if same_trace.is_some() && !tracestate_copies.is_empty() {
        match parse_tracestate(&tracestate_copies) {
            Ok(value) => tracestate = value,
            Err(()) => reasons.push(RejectionReason::TracestateInvalid),
        }
    }

    let reasons = ordered(reasons);
    ExtractedContext {
        trace_id: Some(trace_id),
        parent_span_id: same_trace.as_ref().map(|tp| tp.parent_id.clone()),
        // Only the flags Raceway propagates (sampled, random) are kept; unknown bits are zeroed.
        trace_flags: same_trace
            .as_ref()
            .map(|tp| tp.flags & crate::sampling::PROPAGATED_FLAGS),
        clock,
        clock_dropped,
        tracestate,
        status: if reasons.is_empty() {
            IncomingStatus::Accepted
        } else {
            IncomingStatus::Degraded
        },
        reasons,
    }
}

fn ordered(mut reasons: Vec<RejectionReason>) -> Vec<RejectionReason> {
    reasons.sort_unstable();
    reasons.dedup();
    reasons
}
