//! Shared test support: the event schema, and a fake collector on loopback.
#![allow(dead_code)]

pub mod collector;
#[cfg(feature = "sqlx-postgres")]
pub mod pg;
pub mod schema;
