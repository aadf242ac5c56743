//! The one client-call lifecycle behind the reqwest middleware and `get_trace_headers`: a client
//! span of its own, `request_sent` before the headers are written, the callee's clock merged
//! from the response, `response_received` at the end.

use std::time::Instant;

use http::HeaderMap;
use reqwest::Url;
use serde_json::{json, Value};

use crate::clock::decode_clock;
use crate::context::{ExecutionContext, SpanOverride};
use crate::event::{clamp, event_method, EventKind};
use crate::ids::{new_span_id, normalize_trace_id};
use crate::propagation::{
    header_copies, inject, single_header, HeaderSource, OutgoingContext, SingleHeader,
};

const MAX_URL: usize = 2048;
const MAX_HOST: usize = 512;

/// The target of a call as recorded: no credentials, query or fragment (they may carry
/// secrets), and its `host[:port]`.
pub(crate) fn event_target(url: &Url) -> (String, String) {
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => url.scheme().to_owned(),
    };
    let target = format!("{}://{}{}", url.scheme(), host, url.path());
    (clamp(&target, MAX_URL), clamp(&host, MAX_HOST))
}

pub(crate) struct ClientCall {
    context: ExecutionContext,
    span_id: String,
    method: String,
    url: String,
    host: String,
    started: Instant,
}

impl ClientCall {
    /// Records `request_sent` (the call's clock step) and, when `propagate`, writes the trace
    /// headers with the clock after it (spec 2.5).
    pub(crate) fn start(
        context: &ExecutionContext,
        method: &str,
        url: &Url,
        propagate: bool,
        headers: &mut HeaderMap,
    ) -> Self {
        let span_id = new_span_id();
        let method = event_method(method);
        let (target, host) = event_target(url);
        let (tick, clock, dropped) = context.call_tick();
        context.record_with(
            EventKind::RequestSent,
            json!({ "method": method, "url": target, "host": host }),
            Some(SpanOverride {
                span_id: &span_id,
                parent_span_id: Some(context.span_id()),
            }),
            Some(tick),
        );
        if propagate {
            inject(
                &OutgoingContext {
                    trace_id: context.trace_id(),
                    span_id: &span_id,
                    clock: &clock,
                    own: Some(context.component()),
                    clock_dropped: dropped,
                    tracestate: context.tracestate(),
                    trace_flags: context.trace_flags(),
                },
                headers,
            );
        }
        ClientCall {
            context: context.clone(),
            span_id,
            method,
            url: target,
            host,
            started: Instant::now(),
        }
    }

    /// Records `response_received`: the status (or the error), the duration, and whether the
    /// callee's clock was merged first.
    pub(crate) fn end(
        self,
        status: Option<u16>,
        response_headers: Option<&HeaderMap>,
        error: Option<Value>,
    ) {
        let remote_clock =
            response_headers.is_some_and(|headers| merge_response_clock(&self.context, headers));
        let mut data = json!({
            "method": self.method,
            "url": self.url,
            "host": self.host,
            "duration_ms": duration_ms(self.started),
            "remote_clock": remote_clock,
        });
        if let Some(status) = status.filter(|s| (100..=599).contains(s)) {
            data["status"] = status.into();
        }
        if let Some(error) = error {
            data["error"] = error;
        }
        self.context.record_with(
            EventKind::ResponseReceived,
            data,
            Some(SpanOverride {
                span_id: &self.span_id,
                parent_span_id: Some(self.context.span_id()),
            }),
            None,
        );
    }
}

/// Milliseconds since `started`, to the microsecond.
pub(crate) fn duration_ms(started: Instant) -> f64 {
    (started.elapsed().as_micros() as f64) / 1000.0
}

/// Merges the clock a callee sent back (spec 2.6) when the response belongs to the context's
/// trace; true when a clock was merged. An absent, foreign or invalid clock is ignored.
pub(crate) fn merge_response_clock<S: HeaderSource + ?Sized>(
    context: &ExecutionContext,
    headers: &S,
) -> bool {
    let raw_trace_id = headers.header_values("x-raceway-trace-id");
    let trace_ids = header_copies(&raw_trace_id, true);
    let SingleHeader::Value(trace_id) = single_header(&trace_ids) else {
        return false;
    };
    if normalize_trace_id(trace_id).as_deref() != Some(context.trace_id()) {
        return false;
    }
    let raw_vc = headers.header_values("x-raceway-vc");
    let copies = header_copies(&raw_vc, false);
    let SingleHeader::Value(vc) = single_header(&copies) else {
        return false;
    };
    match decode_clock(vc) {
        Ok(decoded) => {
            context.merge_decoded(&decoded);
            true
        }
        Err(_) => false,
    }
}

impl ClientCall {
    /// Ends the bookkeeping without a `response_received` (a manual call whose response the
    /// SDK never sees).
    pub(crate) fn forget(self) {}
}
