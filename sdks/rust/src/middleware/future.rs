use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use tokio::task::futures::TaskLocalFuture;

use super::server_call::ServerCall;
use crate::context::ExecutionContext;

pin_project_lite::pin_project! {
    /// The response future of [`RacewayService`](super::RacewayService): polls the inner future
    /// inside the request's execution context and records the outcome when it completes.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Traced {
            #[pin]
            inner: TaskLocalFuture<ExecutionContext, F>,
            call: Option<ServerCall>,
        },
        Untraced {
            #[pin]
            inner: F,
        },
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn traced(inner: TaskLocalFuture<ExecutionContext, F>, call: ServerCall) -> Self {
        ResponseFuture {
            kind: Kind::Traced {
                inner,
                call: Some(call),
            },
        }
    }

    pub(super) fn untraced(inner: F) -> Self {
        ResponseFuture {
            kind: Kind::Untraced { inner },
        }
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    E: std::fmt::Display,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Untraced { inner } => inner.poll(cx),
            KindProj::Traced { inner, call } => {
                // A panicking handler is recorded (error, then response_sent 500) and the panic
                // goes on unwinding: the application's own panic handling is unchanged.
                let polled = catch_unwind(AssertUnwindSafe(|| inner.poll(cx)));
                match polled {
                    Err(payload) => {
                        if let Some(call) = call.take() {
                            call.fail("panic", panic_message(payload.as_ref()));
                        }
                        resume_unwind(payload)
                    }
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(Ok(mut response))) => {
                        if let Some(call) = call.take() {
                            call.finish(&mut response);
                        }
                        Poll::Ready(Ok(response))
                    }
                    Ok(Poll::Ready(Err(error))) => {
                        if let Some(call) = call.take() {
                            call.fail("ServiceError", &error.to_string());
                        }
                        Poll::Ready(Err(error))
                    }
                }
            }
        }
    }
}
