//! Raceway for Rust: distributed tracing with vector clocks, so that races between services
//! (two requests that read and write the same data without ordering) show up in the collector.
//!
//! - Server: [`middleware::RacewayLayer`], a `tower::Layer` for axum 0.8 and any tower service;
//!   `actix::RacewayActix` for actix-web 4 (feature `actix-web`).
//! - Client: [`reqwest_middleware::RacewayMiddleware`] for `reqwest-middleware`,
//!   [`hyper_client::RacewayClientLayer`] for hyper's client (any tower service of
//!   `http::Request`), or [`RacewayClient::get_trace_headers`] and
//!   [`RacewayClient::merge_response_headers`] for any other client.
//! - State and locks: [`RacewayClient::track_state_read`], [`RacewayClient::track_state_write`],
//!   [`RacewayClient::with_lock`] (a real lock); errors and custom events.
//! - Context: each request's future runs in a tokio task-local execution context. A task
//!   started with `tokio::spawn` does not inherit it: use [`spawn`], [`forked`] or [`fork`].
//! - Diagnostics: `tracing` events with the target `raceway`, never prints; `RACEWAY_DEBUG`
//!   adds the verbose ones (level debug).
//!
//! The contract these implement is `spec/README.md` of the Raceway repository.

#[cfg(feature = "actix-web")]
pub mod actix;
mod client;
mod client_call;
pub mod clock;
pub mod config;
pub mod context;
pub mod db;
pub mod delivery;
mod digest;
pub mod env_names;
mod event;
pub mod hyper_client;
pub mod ids;
mod layer_use;
pub mod middleware;
mod otel_resource;
pub mod propagation;
#[cfg(feature = "reqwest")]
pub mod reqwest_middleware;
pub mod sampling;
mod state;
mod transport;
mod url_filter;

pub use client::{ClientBuilder, ManualCallEnd, RacewayClient, RacewayMutexGuard};
pub use config::{Config, ConfigError, ConfigErrorCode, Options};
pub use context::{fork, forked, spawn, Branch, BranchHandle, ExecutionContext, Forked};
pub use event::EventKind;
pub use state::{StateAccess, StateVersion};
pub use transport::TransportStats;
pub use url_filter::{IgnorePaths, PropagateTo};

/// The README's examples, compiled as doctests so that they keep working as written.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
