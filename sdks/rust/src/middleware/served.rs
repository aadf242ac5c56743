//! A traced request's future as every server adapter runs it: polled inside the request's
//! execution context, a panic recorded (`error`, then `response_sent` 500) and left to go on
//! unwinding. What the adapter records once the future completes differs per framework (the
//! response type, where the route is read), so the output comes back with the call to end.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::task::futures::TaskLocalFuture;

use super::server_call::ServerCall;
use crate::context::ExecutionContext;

pin_project_lite::pin_project! {
    #[project = ServedProj]
    pub(crate) enum Served<F> {
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

impl<F: Future> Served<F> {
    pub(crate) fn traced(inner: TaskLocalFuture<ExecutionContext, F>, call: ServerCall) -> Self {
        Served::Traced {
            inner,
            call: Some(call),
        }
    }

    pub(crate) fn untraced(inner: F) -> Self {
        Served::Untraced { inner }
    }

    /// The inner future's output and the call to record it in: `None` for an untraced request
    /// (or once the call was taken by an earlier completion).
    pub(crate) fn poll_served(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<(F::Output, Option<ServerCall>)> {
        match self.project() {
            ServedProj::Untraced { inner } => inner.poll(cx).map(|output| (output, None)),
            ServedProj::Traced { inner, call } => {
                // The application's own panic handling is unchanged: the panic is recorded,
                // then goes on unwinding.
                match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                    Ok(polled) => polled.map(|output| (output, call.take())),
                    Err(payload) => {
                        if let Some(call) = call.take() {
                            call.fail("panic", panic_message(payload.as_ref()));
                        }
                        resume_unwind(payload)
                    }
                }
            }
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}
