//! Connection ids (spec 4.3): one per physical driver connection for its life, unique in the
//! process, so that the collector follows each connection's transactions.

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// A new connection id: `<driver>#<n>`, `n` counted across every driver of the process
/// (`sqlx-pg#1`, `rusqlite#2`).
pub fn new_connection_id(driver: &str) -> String {
    format!(
        "{driver}#{}",
        NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed)
    )
}
