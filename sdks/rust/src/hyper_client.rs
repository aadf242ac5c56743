//! Client side for hyper: [`RacewayClientLayer`], a tower layer for
//! `hyper_util::client::legacy::Client` and any other tower service that sends an
//! `http::Request` and answers an `http::Response`. It does what the reqwest middleware does:
//! each request made from an execution context is a client span of its own, `request_sent`,
//! the trace headers (to hosts allowed by `propagate_to`), the callee's clock merged from the
//! response, `response_received`. Requests outside a context pass through untouched.
//!
//! ```no_run
//! use http_body_util::Empty;
//! use hyper::body::Bytes;
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use raceway_client::hyper_client::RacewayClientLayer;
//! use tower::{Service as _, ServiceBuilder, ServiceExt as _};
//! # async fn demo(raceway: raceway_client::RacewayClient) {
//! let hyper = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
//! let mut http = ServiceBuilder::new()
//!     .layer(RacewayClientLayer::new(&raceway))
//!     .service(hyper);
//! let request = http::Request::get("http://inventory:8080/stock/42")
//!     .body(Empty::new())
//!     .unwrap();
//! let response = http.ready().await.unwrap().call(request).await.unwrap();
//! # }
//! ```

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use url::Url;

use crate::client::RacewayClient;
use crate::client_call::ClientCall;
use crate::context::ExecutionContext;
use crate::event::error_message_data;

/// Wraps a client service in [`RacewayClientService`].
#[derive(Clone, Debug)]
pub struct RacewayClientLayer {
    client: RacewayClient,
}

impl RacewayClientLayer {
    /// A layer that records into `client` (a `RacewayClient` or a `&RacewayClient`).
    pub fn new(client: impl Into<RacewayClient>) -> Self {
        RacewayClientLayer {
            client: client.into(),
        }
    }
}

impl<S> Layer<S> for RacewayClientLayer {
    type Service = RacewayClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RacewayClientService {
            inner,
            client: self.client.clone(),
        }
    }
}

/// The service [`RacewayClientLayer`] makes.
#[derive(Clone, Debug)]
pub struct RacewayClientService<S> {
    inner: S,
    client: RacewayClient,
}

/// The absolute URL of a request: its URI, or (for a URI that is a path only, as on a
/// connection of hyper's own) the `Host` header and the path.
fn request_url<B>(request: &Request<B>) -> Option<Url> {
    let uri = request.uri();
    if uri.authority().is_some() {
        return Url::parse(&uri.to_string()).ok();
    }
    let host = request.headers().get(http::header::HOST)?.to_str().ok()?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Url::parse(&format!("http://{host}{path}")).ok()
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RacewayClientService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Display,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ClientFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let Some(context) = self.client.current_context() else {
            return ClientFuture {
                inner: self.inner.call(request),
                call: None,
            };
        };
        let url = request_url(&request);
        let method = request.method().as_str().to_owned();
        let call = self.client.start_instrumented_call(
            &context,
            &method,
            url.as_ref(),
            request.headers_mut(),
        );
        ClientFuture {
            inner: self.inner.call(request),
            call: Some((call, context)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RacewayClientService`]: records `response_received` (with the
    /// callee's clock merged first) or the error when the call completes.
    pub struct ClientFuture<F> {
        #[pin]
        inner: F,
        call: Option<(ClientCall, ExecutionContext)>,
    }
}

impl<F, B, E> Future for ClientFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Some((call, context)) = this.call.take() {
            match &result {
                Ok(response) => call.responded(&context, response.status(), response.headers()),
                Err(error) => call.failed(
                    &context,
                    error_message_data("http client error", &error.to_string()),
                ),
            }
        }
        Poll::Ready(result)
    }
}
