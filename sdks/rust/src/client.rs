//! The client: configuration, the transport, and the manual API the docs show
//! (`client.get_trace_headers().await`, state, locks, errors, custom events).
//!
//! The top floor of the crate below the adapters: it starts execution contexts and owns them
//! through `ContextOwner` (an event sink and the names events carry), and it uses the client
//! calls and the transport; none of those know the client.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use reqwest::Url;
use serde_json::{json, Value};

use crate::client_call::{merge_response_clock, ClientCall};
use crate::config::{Config, ConfigError, Env, Options};
use crate::context::{current, ContextInit, ContextOwner, ExecutionContext};
use crate::event::{clamp, error_data, EventKind};
use crate::ids::{new_span_id, new_trace_id, sanitize_service_name};
use crate::propagation::ExtractedContext;
use crate::sampling::decide_flags;
use crate::state::{name_of, StateAccess};
use crate::transport::{Transport, TransportStats, MAX_BATCHES_IN_FLIGHT};
use crate::url_filter::PropagateTo;

/// What every context of one client shares.
struct Tracer {
    config: Config,
    /// The service part of component names, sanitised once.
    service_part: String,
    /// `None` when disabled.
    transport: Option<Transport>,
    /// Hosts already reported as getting no headers (debug mode; the reqwest middleware).
    #[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
    unpropagated_hosts: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Whether a RacewayLayer was made and served a request: catches the layer added before
    /// the routes.
    layer_use: crate::layer_use::LayerUse,
}

/// What the contexts of a client see of it: the names their events carry, and the transport.
impl ContextOwner for Tracer {
    fn service_name(&self) -> &str {
        &self.config.service_name
    }

    fn instance(&self) -> &str {
        &self.config.instance
    }

    fn component_prefix(&self) -> &str {
        &self.service_part
    }

    fn emit(&self, event: String) {
        if let Some(transport) = &self.transport {
            transport.enqueue(event);
        }
    }

    fn config(&self) -> &Config {
        &self.config
    }
}

/// A Raceway client: one per service process. Cheap to clone (a shared handle).
///
/// ```no_run
/// # async fn demo() -> Result<(), raceway_client::ConfigError> {
/// use raceway_client::RacewayClient;
/// let client = RacewayClient::builder()
///     .service_name("checkout")
///     .server_url("http://127.0.0.1:8080")
///     .build()?;
/// // ... serve requests with RacewayLayer::new(client.clone()) ...
/// client.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RacewayClient {
    tracer: Arc<Tracer>,
}

impl std::fmt::Debug for RacewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RacewayClient")
            .field("service", &self.tracer.config.service_name)
            .field("disabled", &self.tracer.config.disabled)
            .finish_non_exhaustive()
    }
}

impl From<&RacewayClient> for RacewayClient {
    fn from(client: &RacewayClient) -> Self {
        client.clone()
    }
}

/// Builds a [`RacewayClient`]; every option left out comes from the environment, then the
/// default (see [`Options`]).
#[derive(Debug, Default)]
pub struct ClientBuilder {
    options: Options,
    /// Batches sent at once; `None`: the transport's default.
    batches_in_flight: Option<usize>,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $t:ty => $conv:expr) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $t) -> Self {
            self.options.$name = Some($conv(value));
            self
        }
    };
}

impl ClientBuilder {
    setter!(/// The service's name (`RACEWAY_SERVICE_NAME`).
        service_name: impl Into<String> => Into::into);
    setter!(/// Where the service runs (`RACEWAY_ENVIRONMENT`, else OpenTelemetry's
        /// `deployment.environment.name` in `OTEL_RESOURCE_ATTRIBUTES`).
        environment: impl Into<String> => Into::into);
    setter!(/// The service's version (`RACEWAY_VERSION`, else OpenTelemetry's `service.version`
        /// in `OTEL_RESOURCE_ATTRIBUTES`).
        version: impl Into<String> => Into::into);
    setter!(/// Collector base URL (`RACEWAY_URL`).
        server_url: impl Into<String> => Into::into);
    setter!(/// API key sent as a bearer token (`RACEWAY_API_KEY`).
        api_key: impl Into<String> => Into::into);
    setter!(/// No context, no events, no headers (`RACEWAY_DISABLED`).
        disabled: bool => std::convert::identity);
    setter!(/// Which process of the service this is (`RACEWAY_INSTANCE`).
        instance: impl Into<String> => Into::into);
    setter!(/// Head sampling rate of traces started here, 0-1 (`RACEWAY_SAMPLE_RATE`).
        sample_rate: f64 => std::convert::identity);
    setter!(/// Verbose diagnostics (`RACEWAY_DEBUG`): `tracing` events of level debug, target
        /// `raceway`.
        debug: bool => std::convert::identity);
    setter!(/// Events per batch (1-5000).
        batch_size: usize => std::convert::identity);
    setter!(/// Longest wait of an event before its batch is sent.
        flush_interval: Duration => std::convert::identity);
    setter!(/// Events held in memory at most, in flight included; beyond it new events are
        /// dropped and counted. Default 100,000.
        max_queue_size: usize => std::convert::identity);
    setter!(/// Bytes of encoded events held in memory at most, in flight included; beyond it new
        /// events are dropped and counted. Default 64 MiB.
        max_queue_bytes: u64 => std::convert::identity);
    setter!(/// Retries of a batch after a network error, 408, 429 or 5xx (0-100). Default: no
        /// limit (spec 4.2).
        max_retries: u32 => std::convert::identity);
    setter!(/// Time limit of one request to the collector.
        request_timeout: Duration => std::convert::identity);
    setter!(/// Outgoing URLs that receive trace headers (`RACEWAY_PROPAGATE_TO`).
        propagate_to: PropagateTo => std::convert::identity);
    setter!(/// Server paths that are not traced.
        ignore_paths: Vec<String> => std::convert::identity);
    setter!(/// Record the statements of instrumented database drivers (`RACEWAY_DB_CAPTURE`).
        capture_queries: bool => std::convert::identity);
    setter!(/// Send raw query parameters besides their digests (`RACEWAY_DB_CAPTURE_VALUES`).
        capture_values: bool => std::convert::identity);
    setter!(/// The key of the parameter digests (`RACEWAY_DIGEST_KEY`).
        digest_key: impl Into<String> => Into::into);

    /// Validates the options and starts the transport.
    pub fn build(self) -> Result<RacewayClient, ConfigError> {
        let batches_in_flight = self.batches_in_flight.unwrap_or(MAX_BATCHES_IN_FLIGHT);
        RacewayClient::start(self.options, batches_in_flight)
    }

    /// How many batches the transport sends at once (default 3): for the tests of the delivery
    /// policy that need one request at a time, not an application's setting.
    #[doc(hidden)]
    pub fn batches_in_flight(mut self, batches: usize) -> Self {
        self.batches_in_flight = Some(batches);
        self
    }

    /// The configuration [`ClientBuilder::build`] would use, with `env` as the environment
    /// instead of the process's, and nothing started: to check a configuration, or to test one
    /// without touching the process environment.
    ///
    /// ```
    /// use raceway_client::RacewayClient;
    /// let env = |name: &str| (name == "RACEWAY_URL").then(|| "http://collector:9000/".to_owned());
    /// let config = RacewayClient::builder()
    ///     .service_name("checkout")
    ///     .resolve_with_env(&env)
    ///     .unwrap();
    /// assert_eq!(config.endpoint.as_str(), "http://collector:9000/v1/events");
    /// ```
    pub fn resolve_with_env(self, env: Env<'_>) -> Result<Config, ConfigError> {
        self.options.resolve_with_env(env)
    }
}

impl RacewayClient {
    /// A builder of options.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured by the environment alone.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(Options::default())
    }

    /// A client from options; refuses a bad configuration with a coded [`ConfigError`]. Starts
    /// the transport's background task on the current tokio runtime (or a thread of its own).
    pub fn new(options: Options) -> Result<Self, ConfigError> {
        Self::start(options, MAX_BATCHES_IN_FLIGHT)
    }

    fn start(options: Options, batches_in_flight: usize) -> Result<Self, ConfigError> {
        crate::env_names::warn_misspelt();
        Ok(Self::from_config_sending(
            options.resolve()?,
            batches_in_flight,
        ))
    }

    /// A client from a configuration already resolved.
    pub fn from_config(config: Config) -> Self {
        Self::from_config_sending(config, MAX_BATCHES_IN_FLIGHT)
    }

    fn from_config_sending(config: Config, batches_in_flight: usize) -> Self {
        let transport = (!config.disabled).then(|| Transport::start(&config, batches_in_flight));
        RacewayClient {
            tracer: Arc::new(Tracer {
                service_part: sanitize_service_name(&config.service_name),
                config,
                transport,
                unpropagated_hosts: Default::default(),
                layer_use: Default::default(),
            }),
        }
    }

    /// The resolved configuration.
    pub fn config(&self) -> &Config {
        &self.tracer.config
    }

    /// True when the client records nothing and sends no headers.
    pub fn is_disabled(&self) -> bool {
        self.tracer.config.disabled
    }

    /// Starts the execution context of one incoming request (server adapters call this): a new
    /// span, child of the caller's; the incoming clock; the sampling decision (spec 8). The
    /// adapter then records `request_received`. `None` when disabled.
    pub fn start_context(&self, incoming: &ExtractedContext) -> Option<ExecutionContext> {
        if self.is_disabled() {
            return None;
        }
        let joined = incoming.trace_id.is_some();
        let trace_id = incoming.trace_id.clone().unwrap_or_else(new_trace_id);
        let trace_flags = decide_flags(
            &trace_id,
            self.tracer.config.sample_rate,
            joined,
            incoming.trace_flags,
        );
        Some(ExecutionContext::new(
            Arc::<Tracer>::clone(&self.tracer),
            ContextInit {
                trace_id,
                span_id: new_span_id(),
                parent_span_id: incoming.parent_span_id.clone(),
                trace_flags,
                tracestate: incoming.tracestate.clone(),
                clock: incoming.clock.clone().unwrap_or_default(),
                clock_dropped: incoming.clock_dropped,
            },
        ))
    }

    /// The current task's context, when it belongs to this client and it is enabled.
    pub(crate) fn current_context(&self) -> Option<ExecutionContext> {
        let found = current().filter(|ctx| ctx.is_owned_by(&self.tracer));
        if found.is_none() {
            self.tracer.layer_use.outside_context();
        }
        found
    }

    pub(crate) fn layer_use(&self) -> &crate::layer_use::LayerUse {
        &self.tracer.layer_use
    }

    /// Trace headers for an outgoing call made with a client Raceway does not instrument
    /// (spec 2.7). Each call is a client call of its own: a new span id and a `request_sent`
    /// event (the clock step sent); its target is recorded as `unknown` (see
    /// [`RacewayClient::get_trace_headers_for`]). Empty outside a context or when disabled. Pass
    /// the response's headers to [`RacewayClient::merge_response_headers`] afterwards, or what
    /// the callee did looks concurrent with what the caller does next.
    ///
    /// ```no_run
    /// # async fn demo(client: raceway_client::RacewayClient) {
    /// let headers = client.get_trace_headers().await;
    /// // ... send the request with these headers, then:
    /// # let response_headers = http::HeaderMap::new();
    /// client.merge_response_headers(&response_headers);
    /// # }
    /// ```
    pub async fn get_trace_headers(&self) -> HeaderMap {
        self.manual_call("GET", None)
    }

    /// [`RacewayClient::get_trace_headers`] for a call whose method and URL are known: the
    /// events carry them, so the call is an edge of the dependency graph even when the callee
    /// is not instrumented. A URL that does not parse is recorded as `unknown`.
    pub async fn get_trace_headers_for(&self, method: &str, url: &str) -> HeaderMap {
        let target = Url::parse(url).ok();
        self.manual_call(method, target.as_ref())
    }

    fn manual_call(&self, method: &str, target: Option<&Url>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(ctx) = self.current_context() {
            // The application chose to send them: the allow-list does not apply (spec 6.3).
            ClientCall::start(&ctx, method, target, true, &mut headers).keep_open(&ctx);
        }
        headers
    }

    /// Ends the oldest open manual call of the current context (spec 2.7): merges the clock the
    /// callee sent back (`X-Raceway-VC`, when the response belongs to the same trace) and
    /// records the call's `response_received`. True when a clock was merged. An absent,
    /// foreign or invalid clock is ignored.
    pub fn merge_response_headers(&self, headers: &HeaderMap) -> bool {
        self.end_manual_call(headers, ManualCallEnd::default())
    }

    /// [`RacewayClient::merge_response_headers`] with the call's outcome, and the request
    /// headers [`RacewayClient::get_trace_headers`] gave to name the call it ends.
    pub fn end_manual_call(&self, response_headers: &HeaderMap, end: ManualCallEnd<'_>) -> bool {
        let Some(ctx) = self.current_context() else {
            return false;
        };
        let span = end.request.and_then(request_span_id);
        match ClientCall::take_open(&ctx, span.as_deref()) {
            Some(call) => {
                let error = end
                    .error
                    .map(|message| crate::event::error_message_data("Error", message));
                call.end(&ctx, end.status, Some(response_headers), error)
            }
            None => merge_response_clock(&ctx, response_headers),
        }
    }

    /// Records that the current context read a named piece of shared state. Two unordered
    /// accesses to one resource from different contexts, one a write, are a race. No-op
    /// outside a context.
    ///
    /// ```no_run
    /// # fn demo(client: raceway_client::RacewayClient, stock: i64) {
    /// use raceway_client::StateAccess;
    /// client.track_state_read("items/42", StateAccess::value(&stock).version(7));
    /// # }
    /// ```
    pub fn track_state_read(&self, resource: &str, seen: StateAccess) {
        self.record_state(EventKind::StateRead, resource, seen);
    }

    /// Records that the current context wrote a named piece of shared state. No-op outside a
    /// context.
    pub fn track_state_write(&self, resource: &str, written: StateAccess) {
        self.record_state(EventKind::StateWrite, resource, written);
    }

    fn record_state(&self, kind: EventKind, resource: &str, access: StateAccess) {
        let (Some(ctx), Some(name)) = (self.current_context(), name_of(resource)) else {
            return;
        };
        ctx.record(kind, access.into_data(name, kind == EventKind::StateWrite));
    }

    /// Records that the current context took a named lock.
    pub fn track_lock_acquire(&self, lock: &str) {
        self.record_lock(EventKind::LockAcquire, lock);
    }

    /// Records that the current context released a named lock.
    pub fn track_lock_release(&self, lock: &str) {
        self.record_lock(EventKind::LockRelease, lock);
    }

    fn record_lock(&self, kind: EventKind, lock: &str) {
        if let (Some(ctx), Some(name)) = (self.current_context(), name_of(lock)) {
            ctx.record(kind, json!({ "lock": name }));
        }
    }

    /// Takes `mutex`, records `lock_acquire` of `name`, runs `work` on the value it guards,
    /// records `lock_release` and releases `mutex`. Accesses made while two contexts hold a
    /// common lock are not races, and this one is a real lock: concurrent calls run `work` one
    /// at a time. To `.await` while holding it, use [`RacewayClient::lock`].
    ///
    /// ```no_run
    /// # async fn demo(client: raceway_client::RacewayClient, stock: tokio::sync::Mutex<i64>) {
    /// let left = client.with_lock("stock:42", &stock, |stock| { *stock -= 1; *stock }).await;
    /// # }
    /// ```
    pub async fn with_lock<T, R>(
        &self,
        name: &str,
        mutex: &tokio::sync::Mutex<T>,
        work: impl FnOnce(&mut T) -> R,
    ) -> R {
        let mut guard = self.lock(name, mutex).await;
        work(&mut guard)
    }

    /// Takes `mutex` and records `lock_acquire` of `name`; the guard records `lock_release`
    /// when it is dropped, just before the mutex is released.
    ///
    /// ```no_run
    /// # async fn demo(client: raceway_client::RacewayClient, stock: tokio::sync::Mutex<i64>) {
    /// let mut held = client.lock("stock:42", &stock).await;
    /// *held -= 1;
    /// # }
    /// ```
    pub async fn lock<'a, T>(
        &'a self,
        name: &str,
        mutex: &'a tokio::sync::Mutex<T>,
    ) -> RacewayMutexGuard<'a, T> {
        let guard = mutex.lock().await;
        self.track_lock_acquire(name);
        RacewayMutexGuard {
            guard,
            client: self,
            name: name.to_owned(),
        }
    }

    /// Records `lock_acquire`, runs `work`, and records `lock_release` when it completes (or
    /// is dropped). It locks nothing itself: it is for a lock the application already holds
    /// (a lock service, a database advisory lock); [`RacewayClient::with_lock`] takes one.
    ///
    /// ```no_run
    /// # async fn demo(client: raceway_client::RacewayClient, mutex: tokio::sync::Mutex<i64>) {
    /// let mut stock = mutex.lock().await;
    /// client.record_lock_held("inventory", async { *stock -= 1 }).await;
    /// # }
    /// ```
    pub async fn record_lock_held<F: Future>(&self, lock: &str, work: F) -> F::Output {
        struct Release<'a>(&'a RacewayClient, &'a str);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                self.0.track_lock_release(self.1);
            }
        }
        self.track_lock_acquire(lock);
        let _release = Release(self, lock);
        work.await
    }

    /// Records an `error` event: the error's type, message and chain of causes.
    pub fn record_error<E: std::error::Error + 'static>(&self, error: &E) {
        if let Some(ctx) = self.current_context() {
            ctx.record(
                EventKind::Error,
                error_data(std::any::type_name::<E>(), error),
            );
        }
    }

    /// Records a `custom` event with a name and JSON attributes (an object; anything else is
    /// recorded under `value`).
    pub fn record_custom(&self, name: &str, attributes: Value) {
        let (Some(ctx), Some(name)) = (self.current_context(), name_of(name)) else {
            return;
        };
        let attributes = match attributes {
            Value::Object(map) => Value::Object(map),
            Value::Null => Value::Object(Default::default()),
            other => json!({ "value": crate::event::event_value(other) }),
        };
        ctx.record(
            EventKind::Custom,
            json!({ "name": clamp(&name, 256), "attributes": attributes }),
        );
    }

    /// Starts the client call of a request a client integration sends (the reqwest middleware,
    /// the hyper layer): the trace headers go only to a target `propagate_to` allows, and a host
    /// left without them is noted (debug mode). A request whose URL is not known gets none.
    pub(crate) fn start_instrumented_call(
        &self,
        context: &ExecutionContext,
        method: &str,
        target: Option<&Url>,
        headers: &mut HeaderMap,
    ) -> ClientCall {
        let propagate = target.is_some_and(|url| self.config().propagate_to.matches(url));
        if let (false, Some(url)) = (propagate, target) {
            self.note_unpropagated_host(url);
        }
        ClientCall::start(context, method, target, propagate, headers)
    }

    /// In debug mode, says once per host that a host got no trace headers (spec 6.3).
    fn note_unpropagated_host(&self, url: &Url) {
        if !self.tracer.config.debug {
            return;
        }
        let host = url.host_str().unwrap_or("").to_owned();
        let mut seen = self
            .tracer
            .unpropagated_hosts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() < 1024 && seen.insert(host.clone()) {
            tracing::debug!(
                target: "raceway",
                host = %host,
                "host not in propagate_to: calls to it get no trace headers"
            );
        }
    }

    /// What the transport has done so far.
    pub fn stats(&self) -> TransportStats {
        self.tracer
            .transport
            .as_ref()
            .map(Transport::stats)
            .unwrap_or_default()
    }

    /// Sends every queued event now; resolves when they have left the transport, delivered or
    /// dropped. Retries have no limit by default (spec 4.2): with a collector that is down this
    /// lasts until it is back; [`RacewayClient::shutdown_with_timeout`] has a time limit.
    pub async fn flush(&self) {
        if let Some(transport) = &self.tracer.transport {
            transport.flush().await;
        }
    }

    /// Flushes and stops the transport, waiting at most 10 seconds.
    pub async fn shutdown(&self) -> TransportStats {
        self.shutdown_with_timeout(Duration::from_secs(10)).await
    }

    /// Flushes and stops the transport, waiting at most `timeout`; what is undelivered then is
    /// dropped and counted.
    pub async fn shutdown_with_timeout(&self, timeout: Duration) -> TransportStats {
        match &self.tracer.transport {
            Some(transport) => transport.shutdown(timeout).await,
            None => TransportStats::default(),
        }
    }
}

/// How a manual call ended, for [`RacewayClient::end_manual_call`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ManualCallEnd<'a> {
    /// The response status.
    pub status: Option<u16>,
    /// Why the call failed, when it did.
    pub error: Option<&'a str>,
    /// The headers `get_trace_headers` returned for the call; without them, the oldest open
    /// call of the context is ended.
    pub request: Option<&'a HeaderMap>,
}

/// The client span id of a `traceparent` Raceway wrote.
fn request_span_id(headers: &HeaderMap) -> Option<String> {
    let traceparent = headers.get("traceparent")?.to_str().ok()?;
    crate::propagation::parse_traceparent(traceparent).map(|tp| tp.parent_id)
}

/// A held [`tokio::sync::Mutex`] that Raceway knows of ([`RacewayClient::lock`]): it derefs to
/// the guarded value, and records `lock_release` when dropped, before the mutex is released.
pub struct RacewayMutexGuard<'a, T> {
    guard: tokio::sync::MutexGuard<'a, T>,
    client: &'a RacewayClient,
    name: String,
}

impl<T> std::ops::Deref for RacewayMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for RacewayMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T> Drop for RacewayMutexGuard<'_, T> {
    fn drop(&mut self) {
        // Runs before the fields are dropped: the release is recorded while the lock is held.
        self.client.track_lock_release(&self.name);
    }
}
