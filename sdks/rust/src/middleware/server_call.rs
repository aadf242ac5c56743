//! One traced request: everything that is the same for every server framework (extract, new
//! context, `request_received`, response headers, `response_sent`, errors). The tower layer
//! and the actix-web middleware are thin adapters around it; it takes plain parts (method,
//! path, headers, status) so that frameworks on another `http` crate version fit too.

use std::time::Instant;

use http::{HeaderValue, Request, Response};
use serde_json::{json, Value};

use crate::client::RacewayClient;
use crate::context::ExecutionContext;
use crate::event::{clamp, duration_ms, error_message_data, event_method, EventKind};
use crate::propagation::{extract, HeaderSource, HEADER_TRACE_ID, HEADER_VC};

const MAX_PATH: usize = 2048;
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
            .map(|matched| matched.as_str().to_owned())
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
        Self::start_with(
            client,
            request.method().as_str(),
            request.uri().path(),
            request.headers(),
            route_of(request),
        )
    }

    /// [`ServerCall::start`] from the parts of a request; `route` is the template when the
    /// router matched before the adapter runs.
    pub(crate) fn start_with<H: HeaderSource + ?Sized>(
        client: &RacewayClient,
        method: &str,
        path: &str,
        headers: &H,
        route: Option<String>,
    ) -> Option<Self> {
        if client.config().ignore_paths.matches(path) {
            return None;
        }
        let incoming = extract(headers);
        let context = client.start_context(&incoming)?;
        let method = event_method(method);
        let route = route.map(|route| clamp(&route, MAX_ROUTE));
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
        let status = response.status().as_u16();
        let headers = response.headers_mut();
        for (name, value) in self.respond(status, None, None) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }

    /// Records `response_sent` for a response with `status` and returns the headers to put on
    /// it: the trace id, and the clock of that step (spec 2.6) when the context is sampled (an
    /// unsampled one records nothing: like an outgoing call, it sends no clock). `route`, when
    /// known only now (the router ran inside the adapter), replaces the one from the start;
    /// `error` (type, message) is an error the response stands for: recorded as an `error`
    /// event first, and in `response_sent`.
    pub(crate) fn respond(
        self,
        status: u16,
        route: Option<String>,
        error: Option<(&str, &str)>,
    ) -> Vec<(&'static str, String)> {
        let error = error.map(|(type_name, message)| {
            let error = error_message_data(type_name, message);
            self.context.record(EventKind::Error, error.clone());
            error
        });
        let tick = self.context.tick();
        let mut headers = vec![(HEADER_TRACE_ID, self.context.trace_id().to_owned())];
        if self.context.is_sampled() {
            headers.push((HEADER_VC, tick.header()));
        }
        let mut data = self.response_data(status, error);
        if let Some(route) = route {
            data["route"] = clamp(&route, MAX_ROUTE).into();
        }
        self.context
            .record_with(EventKind::ResponseSent, data, None, Some(tick));
        headers
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
