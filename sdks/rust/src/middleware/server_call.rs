//! One traced request: everything that is the same for every server framework (extract, new
//! context, `request_received`, response headers, `response_sent`, errors).

use std::time::Instant;

use http::{HeaderValue, Request, Response};
use serde_json::{json, Value};

use crate::client::RacewayClient;
use crate::context::ExecutionContext;
use crate::event::{clamp, duration_ms, error_message_data, event_method, EventKind};
use crate::propagation::{extract, HEADER_TRACE_ID, HEADER_VC};

const MAX_PATH: usize = 2048;
#[cfg(feature = "axum")]
const MAX_ROUTE: usize = 512;

pub(crate) struct ServerCall {
    context: ExecutionContext,
    method: String,
    route: Option<String>,
    started: Instant,
}

/// The route template axum matched (`/orders/{id}`), when the router put it in the request.
fn route_of<B>(request: &Request<B>) -> Option<String> {
    #[cfg(feature = "axum")]
    {
        request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map(|matched| clamp(matched.as_str(), MAX_ROUTE))
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = request;
        None
    }
}

impl ServerCall {
    /// Starts tracing one request; `None` when the client is disabled or the path is ignored.
    pub(crate) fn start<B>(client: &RacewayClient, request: &Request<B>) -> Option<Self> {
        let path = request.uri().path();
        if client.config().ignore_paths.matches(path) {
            return None;
        }
        let incoming = extract(request.headers());
        let context = client.start_context(&incoming)?;
        let method = event_method(request.method().as_str());
        let route = route_of(request);
        let reasons: Vec<&str> = incoming.reasons.iter().map(|r| r.as_str()).collect();
        context.record(
            EventKind::RequestReceived,
            json!({
                "method": method,
                "path": clamp(path, MAX_PATH),
                "route": route,
                "incoming": { "status": incoming.status.as_str(), "reasons": reasons },
            }),
        );
        Some(ServerCall {
            context,
            method,
            route,
            started: Instant::now(),
        })
    }

    pub(crate) fn context(&self) -> &ExecutionContext {
        &self.context
    }

    /// The response is ready: its headers carry the `response_sent` clock (spec 2.6).
    pub(crate) fn finish<B>(self, response: &mut Response<B>) {
        let tick = self.context.tick();
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(self.context.trace_id()) {
            headers.insert(HEADER_TRACE_ID, value);
        }
        // An unsampled context records nothing: like an outgoing call, it sends no clock.
        if self.context.is_sampled() {
            if let Ok(value) = HeaderValue::from_str(&tick.header()) {
                headers.insert(HEADER_VC, value);
            }
        }
        let data = self.response_data(response.status().as_u16(), None);
        self.context
            .record_with(EventKind::ResponseSent, data, None, Some(tick));
    }

    /// The service failed without a response: an `error` event, then `response_sent` with 500.
    pub(crate) fn fail(self, type_name: &str, message: &str) {
        let error = error_message_data(type_name, message);
        self.context.record(EventKind::Error, error.clone());
        let data = self.response_data(500, Some(error));
        self.context.record(EventKind::ResponseSent, data);
    }

    fn response_data(&self, status: u16, error: Option<Value>) -> Value {
        let mut data = json!({
            "method": self.method,
            "route": self.route,
            "status": status,
            "duration_ms": duration_ms(self.started),
        });
        if let Some(error) = error {
            data["error"] = error;
        }
        data
    }
}
