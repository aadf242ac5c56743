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

use http::{Extensions, HeaderMap};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};

use crate::client::RacewayClient;
use crate::client_call::ClientCall;
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
        let propagate = self.client.config().propagate_to.matches(request.url());
        let url = request.url().clone();
        if !propagate {
            self.client.note_unpropagated_host(&url);
        }
        let method = request.method().clone();
        let call = ClientCall::start(
            &context,
            method.as_str(),
            Some(&url),
            propagate,
            request.headers_mut(),
        );
        let result = next.run(request, extensions).await;
        match &result {
            Ok(response) => {
                call.end(
                    &context,
                    Some(response.status().as_u16()),
                    Some(response.headers()),
                    None,
                );
            }
            Err(error) => {
                let error = error_data("reqwest_middleware::Error", error);
                call.end::<HeaderMap>(&context, None, None, Some(error));
            }
        }
        result
    }
}
