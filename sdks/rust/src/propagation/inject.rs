use crate::clock::{encode_clock, VectorClock};
use crate::ids::{is_valid_span_id, is_valid_trace_id};
use crate::sampling::{FLAG_SAMPLED, PROPAGATED_FLAGS};

use super::carrier::{
    HeaderSink, HEADER_TRACEPARENT, HEADER_TRACESTATE, HEADER_TRACE_ID, HEADER_VC,
};
use super::traceparent::format_traceparent;

/// What an outgoing call carries (spec 2.5): the caller's trace, the client call's span and the
/// clock after the `request_sent` increment.
#[derive(Clone, Debug)]
pub struct OutgoingContext<'a> {
    pub trace_id: &'a str,
    /// The client call's span id, sent as the parent id in `traceparent`.
    pub span_id: &'a str,
    pub clock: &'a VectorClock,
    /// The sending context's own component, kept when the clock is cut.
    pub own: Option<&'a str>,
    /// Entries the clock already lacks.
    pub clock_dropped: u64,
    pub tracestate: Option<&'a str>,
    /// The `traceparent` flags to send.
    pub trace_flags: u8,
}

/// Writes the trace headers into `sink`, replacing any existing copy (spec 2.5). A context
/// without a valid trace id and span id, or with flags Raceway does not propagate, injects
/// nothing. An unsampled context sends the trace id, `traceparent` and `tracestate` but no
/// clock: it records nothing, so a clock would promise events that do not exist.
///
/// ```
/// use raceway_client::clock::VectorClock;
/// use raceway_client::propagation::{inject, OutgoingContext};
/// let clock: VectorClock = [("api#1f3a9c07", 3)].into_iter().collect();
/// let mut headers = http::HeaderMap::new();
/// inject(
///     &OutgoingContext {
///         trace_id: "4bf92f3577b34da6a3ce929d0e0e4736",
///         span_id: "00f067aa0ba902b7",
///         clock: &clock,
///         own: Some("api#1f3a9c07"),
///         clock_dropped: 0,
///         tracestate: None,
///         trace_flags: 1,
///     },
///     &mut headers,
/// );
/// assert_eq!(headers["x-raceway-vc"], r#"{"api#1f3a9c07":3}"#);
/// ```
pub fn inject<S: HeaderSink + ?Sized>(context: &OutgoingContext<'_>, sink: &mut S) {
    let flags_ok = context.trace_flags & !PROPAGATED_FLAGS == 0;
    if !flags_ok || !is_valid_trace_id(context.trace_id) || !is_valid_span_id(context.span_id) {
        return;
    }
    sink.set_header(HEADER_TRACE_ID, context.trace_id);
    if context.trace_flags & FLAG_SAMPLED != 0 {
        sink.set_header(
            HEADER_VC,
            &encode_clock(context.clock, context.own, context.clock_dropped),
        );
    }
    sink.set_header(
        HEADER_TRACEPARENT,
        &format_traceparent(context.trace_id, context.span_id, context.trace_flags),
    );
    if let Some(tracestate) = context.tracestate.filter(|t| !t.is_empty()) {
        sink.set_header(HEADER_TRACESTATE, tracestate);
    }
}
