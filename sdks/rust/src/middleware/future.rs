use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use tokio::task::futures::TaskLocalFuture;

use super::served::Served;
use super::server_call::ServerCall;
use crate::context::ExecutionContext;

pin_project_lite::pin_project! {
    /// The response future of [`RacewayService`](super::RacewayService): polls the inner future
    /// inside the request's execution context and records the outcome when it completes.
    pub struct ResponseFuture<F> {
        #[pin]
        served: Served<F>,
    }
}

impl<F: Future> ResponseFuture<F> {
    pub(super) fn traced(inner: TaskLocalFuture<ExecutionContext, F>, call: ServerCall) -> Self {
        ResponseFuture {
            served: Served::traced(inner, call),
        }
    }

    pub(super) fn untraced(inner: F) -> Self {
        ResponseFuture {
            served: Served::untraced(inner),
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: std::fmt::Display,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (result, call) = std::task::ready!(self.project().served.poll_served(cx));
        let Some(call) = call else {
            return Poll::Ready(result);
        };
        Poll::Ready(match result {
            Ok(mut response) => {
                call.finish(&mut response);
                Ok(response)
            }
            Err(error) => {
                call.fail("ServiceError", &error.to_string());
                Err(error)
            }
        })
    }
}
