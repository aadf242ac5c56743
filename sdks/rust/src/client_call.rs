//! The one client-call lifecycle behind the reqwest middleware, the hyper layer and
//! `get_trace_headers`: a client span of its own, `request_sent` before the headers are
//! written, the callee's clock merged from the response, `response_received` at the end.
//!
//! It is built on the execution context (it takes the context's clock steps and records through
//! it) and is used by the client and the client integrations; the context knows nothing of it.

use std::time::Instant;

use http::{HeaderMap, StatusCode};
use reqwest::Url;
use serde_json::{json, Value};

use crate::clock::decode_clock;
use crate::context::{ExecutionContext, OpenCall, SpanOverride};
use crate::event::{clamp, duration_ms, event_method, EventKind};
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

/// One client call: its own span, child of the context's span (spec 4). It keeps no handle on
/// its context, so a context can keep its open manual calls ([`ClientCall::keep_open`]).
pub(crate) struct ClientCall {
    open: OpenCall,
}

impl ClientCall {
    /// Records `request_sent` (the call's clock step) and, when `propagate`, writes the trace
    /// headers with the clock after it (spec 2.5). `target` is `None` for a manual call whose
    /// target is unknown (spec 2.7: `url` and `host` are `unknown`).
    pub(crate) fn start(
        context: &ExecutionContext,
        method: &str,
        target: Option<&Url>,
        propagate: bool,
        headers: &mut HeaderMap,
    ) -> Self {
        let span_id = new_span_id();
        let method = event_method(method);
        let (url, host) = target.map_or_else(
            || ("unknown".to_owned(), "unknown".to_owned()),
            event_target,
        );
        let call = ClientCall {
            open: OpenCall {
                span_id,
                method,
                url,
                host,
                started: Instant::now(),
            },
        };
        // An unsampled context neither records nor steps its clock; it still propagates.
        let clock = if context.is_sampled() {
            let (tick, clock, dropped) = context.call_tick();
            let mut data =
                json!({ "method": call.open.method, "url": call.open.url, "host": call.open.host });
            // A host outside `propagate_to` gets no headers: said in the event, so that the
            // collector can name the setting when the callee's side of the trace is missing.
            if !propagate {
                data["headers_withheld"] = true.into();
            }
            context.record_with(
                EventKind::RequestSent,
                data,
                Some(call.span_override(context)),
                Some(tick),
            );
            Some((clock, dropped))
        } else {
            None
        };
        if propagate {
            let (clock, dropped) = clock.unwrap_or_default();
            inject(
                &OutgoingContext {
                    trace_id: context.trace_id(),
                    span_id: &call.open.span_id,
                    clock: &clock,
                    own: Some(context.component()),
                    clock_dropped: dropped,
                    tracestate: context.tracestate(),
                    trace_flags: context.trace_flags(),
                },
                headers,
            );
        }
        call
    }

    /// Keeps the call open in its context until its response is merged (a manual call).
    pub(crate) fn keep_open(self, context: &ExecutionContext) {
        context.open_call(self.open);
    }

    /// Takes back the context's open manual call with this client span id, or the oldest one.
    pub(crate) fn take_open(context: &ExecutionContext, span_id: Option<&str>) -> Option<Self> {
        context.take_call(span_id).map(|open| ClientCall { open })
    }

    fn span_override<'a>(&'a self, context: &'a ExecutionContext) -> SpanOverride<'a> {
        SpanOverride {
            span_id: &self.open.span_id,
            parent_span_id: Some(context.span_id()),
        }
    }

    /// Records `response_received`: the status (or the error), the duration, and whether the
    /// callee's clock was merged first (spec 2.6); returns that.
    pub(crate) fn end<S: HeaderSource + ?Sized>(
        self,
        context: &ExecutionContext,
        status: Option<u16>,
        response_headers: Option<&S>,
        error: Option<Value>,
    ) -> bool {
        if !context.is_sampled() {
            return false;
        }
        let remote_clock =
            response_headers.is_some_and(|headers| merge_response_clock(context, headers));
        let open = &self.open;
        let mut data = json!({
            "method": open.method,
            "url": open.url,
            "host": open.host,
            "duration_ms": duration_ms(open.started),
            "remote_clock": remote_clock,
        });
        if let Some(status) = status.filter(|s| (100..=599).contains(s)) {
            data["status"] = status.into();
        }
        if let Some(error) = error {
            data["error"] = error;
        }
        context.record_with(
            EventKind::ResponseReceived,
            data,
            Some(self.span_override(context)),
            None,
        );
        remote_clock
    }

    /// The response of an instrumented call arrived: `response_received` with its status, the
    /// callee's clock merged first.
    pub(crate) fn responded(
        self,
        context: &ExecutionContext,
        status: StatusCode,
        headers: &HeaderMap,
    ) {
        self.end(context, Some(status.as_u16()), Some(headers), None);
    }

    /// An instrumented call failed without a response: `response_received` with `error`.
    pub(crate) fn failed(self, context: &ExecutionContext, error: Value) {
        self.end::<HeaderMap>(context, None, None, Some(error));
    }
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
            context.merge(&decoded.clock, decoded.dropped);
            true
        }
        Err(_) => false,
    }
}
