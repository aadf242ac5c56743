//! Server side for actix-web 4: [`RacewayActix`], a middleware that does what
//! [`RacewayLayer`](crate::middleware::RacewayLayer) does for tower, with actix's route template
//! (`/orders/{id}`, from `match_pattern()`). Feature `actix-web`.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use raceway_client::actix::RacewayActix;
//! # async fn demo(client: raceway_client::RacewayClient) -> std::io::Result<()> {
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(RacewayActix::new(&client))
//!         .route("/orders/{id}", web::get().to(|| async { "ok" }))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpMessage as _;

use crate::client::RacewayClient;
use crate::middleware::served::Served;
use crate::middleware::server_call::ServerCall;
use crate::propagation::HeaderSource;

/// Traces every request of the app or scope it wraps: extracts the incoming context, runs the
/// handler inside a new execution context (a tokio task-local), records `request_received` and
/// `response_sent`, and sets `X-Raceway-Trace-Id` and `X-Raceway-VC` on the response. The
/// client and the context are also in the request's extensions
/// (`web::ReqData<RacewayClient>`, `web::ReqData<ExecutionContext>`).
///
/// The route is the pattern of the app's resource that matches the path (`match_pattern()`),
/// on `request_received` and, read again after the handler, on `response_sent`. A response
/// that carries an error (a handler's `Err`) is recorded with an `error` event; a service
/// error or a panic is recorded as a 500 and passed on unchanged.
#[derive(Clone, Debug)]
pub struct RacewayActix {
    client: RacewayClient,
}

impl RacewayActix {
    /// A middleware that records into `client` (a `RacewayClient` or a `&RacewayClient`).
    pub fn new(client: impl Into<RacewayClient>) -> Self {
        RacewayActix {
            client: client.into(),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RacewayActix
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RacewayActixService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RacewayActixService {
            service,
            client: self.client.clone(),
        }))
    }
}

/// The service [`RacewayActix`] makes.
#[derive(Debug)]
pub struct RacewayActixService<S> {
    service: S,
    client: RacewayClient,
}

/// actix's header map (on its own `http` version) as a source for extraction.
struct ActixHeaders<'a>(&'a actix_web::http::header::HeaderMap);

impl HeaderSource for ActixHeaders<'_> {
    fn header_values(&self, name: &str) -> Vec<std::borrow::Cow<'_, str>> {
        self.0
            .get_all(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()))
            .collect()
    }
}

impl<S, B> Service<ServiceRequest> for RacewayActixService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = ActixFuture<S::Future>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let call = ServerCall::start_with(
            &self.client,
            request.method().as_str(),
            request.path(),
            &ActixHeaders(request.headers()),
            request.match_pattern(),
        );
        let Some(call) = call else {
            return ActixFuture {
                served: Served::untraced(self.service.call(request)),
            };
        };
        let context = call.context().clone();
        request.extensions_mut().insert(context.clone());
        request.extensions_mut().insert(self.client.clone());
        // Services may do work in `call` itself, before their future is first polled.
        let inner = context.clone().sync_scope(|| self.service.call(request));
        ActixFuture {
            served: Served::traced(context.scope(inner), call),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RacewayActixService`]: polls the inner future inside the
    /// request's execution context and records the outcome when it completes.
    pub struct ActixFuture<F> {
        #[pin]
        served: Served<F>,
    }
}

impl<F, B> Future for ActixFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (result, call) = std::task::ready!(self.project().served.poll_served(cx));
        let Some(call) = call else {
            return Poll::Ready(result);
        };
        match result {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let route = response.request().match_pattern();
                let error = response.response().error().map(ToString::to_string);
                let error = error
                    .as_deref()
                    .map(|message| ("actix_web::Error", message));
                let headers = call.respond(status, route, error);
                for (name, value) in headers {
                    let name = HeaderName::from_bytes(name.as_bytes());
                    if let (Ok(name), Ok(value)) = (name, HeaderValue::from_str(&value)) {
                        response.headers_mut().insert(name, value);
                    }
                }
                Poll::Ready(Ok(response))
            }
            Err(error) => {
                call.fail("actix_web::Error", &error.to_string());
                Poll::Ready(Err(error))
            }
        }
    }
}
