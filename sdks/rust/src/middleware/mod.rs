//! Server side: [`RacewayLayer`], a `tower::Layer` for axum 0.8 and any tower / hyper 1 service.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use raceway_client::middleware::RacewayLayer;
//! # fn demo(client: raceway_client::RacewayClient) {
//! let app: Router = Router::new()
//!     .route("/orders/{id}", get(|| async { "ok" }))
//!     .layer(RacewayLayer::new(client));
//! # }
//! ```

mod future;
pub(crate) mod served;
pub(crate) mod server_call;

use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::client::RacewayClient;

pub use future::ResponseFuture;
use server_call::ServerCall;

/// Traces every request of the wrapped service: extracts the incoming context, runs the
/// request's future inside a new execution context (a tokio task-local), records
/// `request_received` and `response_sent` (or the error or panic), and sets `X-Raceway-Trace-Id`
/// and `X-Raceway-VC` on the response. The client and the context are also put in the request's
/// extensions (`Extension<RacewayClient>`, `Extension<ExecutionContext>`).
#[derive(Clone, Debug)]
pub struct RacewayLayer {
    client: RacewayClient,
}

impl RacewayLayer {
    /// A layer that records into `client` (a `RacewayClient` or a `&RacewayClient`).
    pub fn new(client: impl Into<RacewayClient>) -> Self {
        let client = client.into();
        client.layer_use().layer_made();
        RacewayLayer { client }
    }
}

impl<S> Layer<S> for RacewayLayer {
    type Service = RacewayService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RacewayService {
            inner,
            client: self.client.clone(),
        }
    }
}

/// The service [`RacewayLayer`] makes.
#[derive(Clone, Debug)]
pub struct RacewayService<S> {
    inner: S,
    client: RacewayClient,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RacewayService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: std::fmt::Display,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        self.client.layer_use().request_served();
        let Some(call) = ServerCall::start(&self.client, &request) else {
            return ResponseFuture::untraced(self.inner.call(request));
        };
        let context = call.context().clone();
        request.extensions_mut().insert(context.clone());
        request.extensions_mut().insert(self.client.clone());
        // Services may do work in `call` itself, before their future is first polled.
        let inner = context.clone().sync_scope(|| self.inner.call(request));
        ResponseFuture::traced(context.scope(inner), call)
    }
}
