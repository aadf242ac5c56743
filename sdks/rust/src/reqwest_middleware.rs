//! Client side: [`RacewayMiddleware`] for `reqwest-middleware`. Each request made from an
//! execution context is a client span of its own: `request_sent`, the trace headers (to hosts
//! allowed by `propagate_to`), the callee's clock merged from the response, `response_received`.
//!
//! ```no_run
//! use raceway_client::reqwest_middleware::RacewayMiddleware;
//! # fn demo(client: raceway_client::RacewayClient) {
//! let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(RacewayMiddleware::new(client))
//!     .build();
//! # }
//! ```

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};

use crate::client::RacewayClient;
use crate::event::error_data;

/// Traces outgoing reqwest calls made inside an execution context; calls outside one pass
/// through untouched.
#[derive(Clone, Debug)]
pub struct RacewayMiddleware {
    client: RacewayClient,
}

impl RacewayMiddleware {
    /// A middleware that records into `client` (a `RacewayClient` or a `&RacewayClient`).
    pub fn new(client: impl Into<RacewayClient>) -> Self {
        RacewayMiddleware {
            client: client.into(),
        }
    }
}

#[async_trait::async_trait]
impl Middleware for RacewayMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let Some(context) = self.client.current_context() else {
            return next.run(request, extensions).await;
        };
        let url = request.url().clone();
        let method = request.method().clone();
        let call = self.client.start_instrumented_call(
            &context,
            method.as_str(),
            Some(&url),
            request.headers_mut(),
        );
        let result = next.run(request, extensions).await;
        match &result {
            Ok(response) => call.responded(&context, response.status(), response.headers()),
            Err(error) => call.failed(&context, error_data("reqwest_middleware::Error", error)),
        }
        result
    }
}
