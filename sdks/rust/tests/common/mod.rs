//! Shared test support: the event schema, and a fake collector on loopback.
#![allow(dead_code)]

pub mod collector;
pub mod schema;
