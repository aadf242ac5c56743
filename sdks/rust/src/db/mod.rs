//! Database query capture (spec 4.3): every statement an instrumented driver runs inside a
//! sampled context becomes a `db_query` event (the statement as sent, its parameters as
//! digests, the connection, the rows returned or affected, the error, the duration), so that
//! the collector finds races on rows without a tracking call in the application.
//!
//! - `sqlx-postgres`, `sqlx-sqlite` features: [`sqlx`], a pool and transaction wrapper whose
//!   `query(...).bind(...)` builders mirror sqlx's.
//! - `rusqlite` feature: [`rusqlite`], a connection wrapper with rusqlite's methods.
//! - Any other driver: [`QueryCapture`] records a statement by hand.
//!
//! Nothing is recorded outside a sampled context, with the client disabled or with
//! `capture_queries` off; recording never fails a query.

mod capture;
mod connection_id;
#[cfg(feature = "rusqlite")]
pub mod rusqlite;
#[cfg(any(
    feature = "rusqlite",
    feature = "sqlx-postgres",
    feature = "sqlx-sqlite"
))]
mod savepoint;
#[cfg(any(feature = "sqlx-postgres", feature = "sqlx-sqlite"))]
pub mod sqlx;

pub use crate::digest::{canonical_param, param_digest, DigestValue, Digester};
pub use capture::{DbSystem, QueryCapture, QueryError, QueryInFlight, Returned};
pub use connection_id::new_connection_id;
