//! The execution context (spec 3.1): one sequential thread of work with its own clock component,
//! carried by a tokio task-local around each request's future.
//!
//! A task spawned with `tokio::spawn` does not inherit task-locals, so it runs outside any
//! context unless it is forked explicitly: [`spawn`] forks, spawns and joins when awaited, and
//! [`fork`] gives a [`Branch`] for anything else.
//!
//! This module is the floor the rest of the crate records on: it knows the clock and the event
//! encoding, and reaches the client that started a context only through `ContextOwner`. The
//! client calls (`client_call`), the server adapter and the client itself are built above it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};
use std::time::Instant;

use serde_json::Value;
use tokio::task::futures::TaskLocalFuture;
use tokio::task::{JoinError, JoinHandle};

use crate::clock::{encode_clock_entries, encode_with_marker, EncodedEntries, VectorClock};
use crate::event::{encode_event, now_micros, EventFields, EventKind};
use crate::ids::{new_component, new_event_id};

tokio::task_local! {
    static CURRENT: ExecutionContext;
}

/// The current task's execution context, if it runs inside one.
pub fn current() -> Option<ExecutionContext> {
    CURRENT.try_with(ExecutionContext::clone).ok()
}

/// What an execution context needs from the client that started it, and nothing more: who
/// records (the `service` and `instance` of every event, the prefix of new components) and where
/// the events go. The client implements it; a context never sees the client itself.
pub(crate) trait ContextOwner: Send + Sync + 'static {
    /// The service name every event carries.
    fn service_name(&self) -> &str;
    /// The instance every event carries.
    fn instance(&self) -> &str;
    /// The service part of new components (`<prefix>#<8 hex>`), sanitised once.
    fn component_prefix(&self) -> &str;
    /// Takes one encoded event; never blocks and never fails.
    fn emit(&self, event: String);
    /// The resolved configuration (the database capture settings, spec 4.3).
    fn config(&self) -> &crate::config::Config;
}

struct ClockState {
    clock: VectorClock,
    /// Entries missing because a clock this context received was truncated.
    dropped: u64,
}

struct ContextInner {
    owner: Arc<dyn ContextOwner>,
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    component: String,
    trace_flags: u8,
    tracestate: Option<String>,
    state: Mutex<ClockState>,
    open_calls: Mutex<OpenCalls>,
}

/// One sequential thread of work: the handling of one request, or a forked branch. Cheap to
/// clone (a shared handle). Every event it records increments its own component (spec 3.2).
#[derive(Clone)]
pub struct ExecutionContext {
    inner: Arc<ContextInner>,
}

impl std::fmt::Debug for ExecutionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionContext")
            .field("trace_id", &self.inner.trace_id)
            .field("span_id", &self.inner.span_id)
            .field("component", &self.inner.component)
            .finish_non_exhaustive()
    }
}

/// A clock step taken ahead of its event: the server takes it when the response headers are
/// written, so `X-Raceway-VC` on the response is the `response_sent` clock (spec 2.6).
pub(crate) struct Tick {
    entries: EncodedEntries,
}

impl Tick {
    /// The snapshot as `X-Raceway-VC` carries it, with the `~dropped` marker.
    pub(crate) fn header(&self) -> String {
        encode_with_marker(&self.entries)
    }
}

/// Where an event belongs when it is not the context's own span (client calls).
pub(crate) struct SpanOverride<'a> {
    pub span_id: &'a str,
    pub parent_span_id: Option<&'a str>,
}

/// An outgoing call made from a context and kept open until its response is merged (a manual
/// call, spec 2.7): its client span and what its `response_received` event records. The
/// lifecycle of a call is `client_call`'s; the context only keeps the open ones.
pub(crate) struct OpenCall {
    pub span_id: String,
    pub method: String,
    pub url: String,
    pub host: String,
    pub started: Instant,
}

#[derive(Default)]
struct OpenCalls {
    calls: std::collections::VecDeque<OpenCall>,
}

/// Most manual calls a context keeps open (spec 2.7); beyond, the oldest is forgotten.
const MAX_OPEN_CALLS: usize = 256;

/// How a new context starts.
pub(crate) struct ContextInit {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub trace_flags: u8,
    pub tracestate: Option<String>,
    pub clock: VectorClock,
    pub clock_dropped: u64,
}

impl ExecutionContext {
    pub(crate) fn new(owner: Arc<dyn ContextOwner>, init: ContextInit) -> Self {
        let component = new_component(owner.component_prefix());
        ExecutionContext {
            inner: Arc::new(ContextInner {
                owner,
                trace_id: init.trace_id,
                span_id: init.span_id,
                parent_span_id: init.parent_span_id,
                component,
                trace_flags: init.trace_flags,
                tracestate: init.tracestate,
                state: Mutex::new(ClockState {
                    clock: init.clock,
                    dropped: init.clock_dropped,
                }),
                open_calls: Mutex::default(),
            }),
        }
    }

    /// Runs `future` with this context as the task's current context.
    pub fn scope<F: Future>(self, future: F) -> TaskLocalFuture<ExecutionContext, F> {
        CURRENT.scope(self, future)
    }

    /// Runs `f` with this context as the current context.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self, f)
    }

    pub fn trace_id(&self) -> &str {
        &self.inner.trace_id
    }

    /// The span of this context (the server span of its request).
    pub fn span_id(&self) -> &str {
        &self.inner.span_id
    }

    pub fn parent_span_id(&self) -> Option<&str> {
        self.inner.parent_span_id.as_deref()
    }

    /// This context's own clock component, `<service>#<8 hex>`.
    pub fn component(&self) -> &str {
        &self.inner.component
    }

    /// The `traceparent` flags this context sends.
    pub fn trace_flags(&self) -> u8 {
        self.inner.trace_flags
    }

    pub fn tracestate(&self) -> Option<&str> {
        self.inner.tracestate.as_deref()
    }

    /// A copy of the clock as it is now.
    pub fn clock(&self) -> VectorClock {
        self.state().clock.clone()
    }

    /// Entries this context's clock lacks because a truncated clock was received.
    pub fn clock_dropped(&self) -> u64 {
        self.state().dropped
    }

    /// True when `owner` started this context (one client's contexts are not another's).
    pub(crate) fn is_owned_by<O: ContextOwner>(&self, owner: &Arc<O>) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.inner.owner), Arc::as_ptr(owner))
    }

    fn state(&self) -> MutexGuard<'_, ClockState> {
        // A panic while the lock was held leaves a clock that is still a valid clock.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps a manual call open until its response is merged.
    pub(crate) fn open_call(&self, call: OpenCall) {
        let mut open = self
            .inner
            .open_calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if open.calls.len() == MAX_OPEN_CALLS {
            open.calls.pop_front();
        }
        open.calls.push_back(call);
    }

    /// Takes the open manual call with this span id, or the oldest one.
    pub(crate) fn take_call(&self, span_id: Option<&str>) -> Option<OpenCall> {
        let mut open = self
            .inner
            .open_calls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = match span_id {
            Some(span) => open.calls.iter().position(|call| call.span_id == span)?,
            None => 0,
        };
        open.calls.remove(index)
    }

    /// Increments the own component and returns the snapshot, for an event recorded later with
    /// [`ExecutionContext::record_with`].
    pub(crate) fn tick(&self) -> Tick {
        let mut state = self.state();
        state.clock.increment(&self.inner.component);
        Tick {
            entries: encode_clock_entries(&state.clock, Some(&self.inner.component), state.dropped),
        }
    }

    /// Increments the own component for an outgoing call: the event's snapshot, and the whole
    /// clock with its missing-entry count for the headers.
    pub(crate) fn call_tick(&self) -> (Tick, VectorClock, u64) {
        let mut state = self.state();
        state.clock.increment(&self.inner.component);
        let entries =
            encode_clock_entries(&state.clock, Some(&self.inner.component), state.dropped);
        (Tick { entries }, state.clock.clone(), state.dropped)
    }

    /// Merges a clock received from elsewhere (a response, a joined branch), element-wise
    /// maximum (spec 2.6, 3.2).
    pub(crate) fn merge(&self, remote: &VectorClock, dropped: u64) {
        if !self.is_sampled() {
            return;
        }
        let mut state = self.state();
        state.clock.merge(remote);
        state.dropped = state.dropped.max(dropped);
    }

    /// Records one event with its own increment.
    pub(crate) fn record(&self, kind: EventKind, data: Value) {
        self.record_with(kind, data, None, None);
    }

    /// Records one event: takes a clock step (or uses the one given), writes the event's JSON
    /// and hands it to the owner's sink. Never blocks and never fails.
    pub(crate) fn record_with(
        &self,
        kind: EventKind,
        data: Value,
        span: Option<SpanOverride<'_>>,
        tick: Option<Tick>,
    ) {
        // An unsampled context records nothing and keeps no clock (spec 5.4).
        if !self.is_sampled() {
            return;
        }
        let owner = &self.inner.owner;
        let tick = tick.unwrap_or_else(|| self.tick());
        let (span_id, parent_span_id) = match &span {
            Some(span) => (span.span_id, span.parent_span_id),
            None => (
                self.inner.span_id.as_str(),
                self.inner.parent_span_id.as_deref(),
            ),
        };
        let fields = EventFields {
            trace_id: &self.inner.trace_id,
            span_id,
            parent_span_id,
            service: owner.service_name(),
            instance: owner.instance(),
            component: &self.inner.component,
            kind,
            clock_json: &tick.entries.json,
            clock_dropped: tick.entries.dropped,
            data: &data,
        };
        owner.emit(encode_event(&fields, &new_event_id(), now_micros()));
    }

    /// The configuration of the client that started this context.
    pub(crate) fn config(&self) -> &crate::config::Config {
        self.inner.owner.config()
    }

    /// True when this context's trace is sampled (the `traceparent` sampled flag).
    pub fn is_sampled(&self) -> bool {
        self.inner.trace_flags & 0x01 == 0x01
    }

    /// Starts a concurrent branch: records `fork` here and returns the child, whose clock is
    /// this clock after that event (spec 3.2).
    fn fork_child(&self) -> ExecutionContext {
        let component = new_component(self.inner.owner.component_prefix());
        self.record(EventKind::Fork, serde_json::json!({ "child": component }));
        let (clock, dropped) = {
            let state = self.state();
            (state.clock.clone(), state.dropped)
        };
        ExecutionContext {
            inner: Arc::new(ContextInner {
                owner: Arc::clone(&self.inner.owner),
                trace_id: self.inner.trace_id.clone(),
                span_id: self.inner.span_id.clone(),
                parent_span_id: self.inner.parent_span_id.clone(),
                component,
                trace_flags: self.inner.trace_flags,
                tracestate: self.inner.tracestate.clone(),
                state: Mutex::new(ClockState { clock, dropped }),
                open_calls: Mutex::default(),
            }),
        }
    }

    /// Ends a branch: merges the child's clock here and records `join`.
    fn join_child(&self, child: &ExecutionContext) {
        let (clock, dropped) = {
            let state = child.state();
            (state.clock.clone(), state.dropped)
        };
        self.merge(&clock, dropped);
        self.record(
            EventKind::Join,
            serde_json::json!({ "child": child.inner.component }),
        );
    }
}

/// A concurrent branch of the current context, made by [`fork`]: run work in it with
/// [`Branch::run`] (in this task or a spawned one), then [`Branch::join`] when it is done.
/// Outside a context every method simply runs the work.
#[must_use = "a branch is joined with Branch::join once its work is done"]
pub struct Branch {
    link: Option<(ExecutionContext, ExecutionContext)>,
}

/// Forks the current context: records `fork` and returns the branch (spec 3.2).
///
/// ```no_run
/// # async fn demo() {
/// let branch = raceway_client::fork();
/// let task = tokio::spawn(branch.run(async { /* tracked work */ }));
/// task.await.unwrap();
/// branch.join();
/// # }
/// ```
pub fn fork() -> Branch {
    Branch {
        link: current().map(|parent| {
            let child = parent.fork_child();
            (parent, child)
        }),
    }
}

impl Branch {
    /// The branch's own context, when forked inside a context.
    pub fn context(&self) -> Option<&ExecutionContext> {
        self.link.as_ref().map(|(_, child)| child)
    }

    /// `future` with the branch's context as its current context.
    pub fn run<F: Future>(&self, future: F) -> BranchFuture<F> {
        match self.context() {
            Some(child) => BranchFuture::Scoped {
                inner: child.clone().scope(future),
            },
            None => BranchFuture::Plain { inner: future },
        }
    }

    /// Merges the branch's clock into its parent and records `join` there.
    pub fn join(self) {
        if let Some((parent, child)) = &self.link {
            parent.join_child(child);
        }
    }
}

pin_project_lite::pin_project! {
    /// A future run in a [`Branch`].
    #[project = BranchFutureProj]
    pub enum BranchFuture<F: Future> {
        Scoped { #[pin] inner: TaskLocalFuture<ExecutionContext, F> },
        Plain { #[pin] inner: F },
    }
}

impl<F: Future> Future for BranchFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.project() {
            BranchFutureProj::Scoped { inner } => inner.poll(cx),
            BranchFutureProj::Plain { inner } => inner.poll(cx),
        }
    }
}

/// Runs `future` as a branch of the current context and joins it when it completes. The fork
/// happens when `forked` is called, not when the future is first polled, so two branches made
/// for one `tokio::join!` are concurrent in the clocks, and both happen before what the parent
/// does after the join.
///
/// ```no_run
/// # async fn demo(client: raceway_client::RacewayClient) {
/// use raceway_client::{forked, StateAccess};
/// tokio::join!(
///     forked(async { client.track_state_write("stock/1", StateAccess::none()) }),
///     forked(async { client.track_state_write("stock/1", StateAccess::none()) }),
/// );
/// # }
/// ```
pub fn forked<F: Future>(future: F) -> Forked<F> {
    let branch = fork();
    Forked {
        inner: branch.run(future),
        branch: Some(branch),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`forked`]: joins its branch when it completes.
    pub struct Forked<F: Future> {
        #[pin]
        inner: BranchFuture<F>,
        branch: Option<Branch>,
    }
}

impl<F: Future> Future for Forked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = ready!(this.inner.poll(cx));
        if let Some(branch) = this.branch.take() {
            branch.join();
        }
        Poll::Ready(output)
    }
}

/// `tokio::spawn` for traced work: forks the current context, runs `future` in the branch on a
/// new task, and joins the branch when the returned handle is awaited.
///
/// ```no_run
/// # async fn demo() {
/// let handle = raceway_client::spawn(async { 42 });
/// assert_eq!(handle.await.unwrap(), 42);
/// # }
/// ```
pub fn spawn<F>(future: F) -> BranchHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let branch = fork();
    let task = tokio::spawn(branch.run(future));
    BranchHandle {
        task,
        branch: Some(branch),
    }
}

/// The handle of a task started with [`spawn`]; awaiting it joins the branch.
pub struct BranchHandle<T> {
    task: JoinHandle<T>,
    branch: Option<Branch>,
}

impl<T> BranchHandle<T> {
    /// Aborts the task (the branch is never joined).
    pub fn abort(&self) {
        self.task.abort();
    }
}

impl<T> Future for BranchHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let output = ready!(Pin::new(&mut self.task).poll(cx));
        if let Some(branch) = self.branch.take() {
            branch.join();
        }
        Poll::Ready(output)
    }
}
