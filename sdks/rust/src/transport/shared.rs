//! What the application side of the transport and its background task share: the commands of
//! the channel between them, the counters of the bound and of the stats, and how drops are
//! reported.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::sync::oneshot;

/// What the transport has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Events the collector acknowledged as durable.
    pub delivered: u64,
    /// Events dropped: queue full, rejected by the collector, a batch the collector keeps
    /// failing on while it takes the others (spec 4.2), `max_retries` exhausted, a shutdown
    /// deadline, or recorded after shutdown.
    pub dropped: u64,
    /// Events held now: queued, in flight or waiting for a retry (at most `max_queue_size`).
    pub queued: usize,
}

pub(crate) enum Command {
    Event(String),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// Counters shared by the application side and the background task.
#[derive(Default)]
pub(crate) struct Counters {
    delivered: AtomicU64,
    dropped: AtomicU64,
    /// Drops not yet reported in a batch's `dropped` field.
    unreported: AtomicU64,
    /// Events held (queued, in flight, waiting for a retry) and their encoded size: what
    /// `max_queue_size` and `max_queue_bytes` bound.
    held_events: AtomicUsize,
    held_bytes: AtomicU64,
}

impl Counters {
    pub(crate) fn add_delivered(&self, n: u64) {
        self.delivered.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts drops; returns the total so far.
    pub(crate) fn add_dropped(&self, n: u64) -> u64 {
        self.unreported.fetch_add(n, Ordering::Relaxed);
        self.dropped.fetch_add(n, Ordering::Relaxed) + n
    }

    pub(crate) fn take_unreported(&self) -> u64 {
        self.unreported.swap(0, Ordering::Relaxed)
    }

    pub(crate) fn restore_unreported(&self, n: u64) {
        self.unreported.fetch_add(n, Ordering::Relaxed);
    }

    /// Takes room for one event of `bytes` in the bound; false (nothing taken) when full.
    pub(crate) fn reserve(&self, bytes: u64, max_events: usize, max_bytes: u64) -> bool {
        if self.held_events.fetch_add(1, Ordering::AcqRel) >= max_events {
            self.held_events.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        if self.held_bytes.fetch_add(bytes, Ordering::AcqRel) + bytes > max_bytes {
            self.release(1, bytes);
            return false;
        }
        true
    }

    /// Gives back the room of events that left the transport for good.
    pub(crate) fn release(&self, events: usize, bytes: u64) {
        self.held_events.fetch_sub(events, Ordering::AcqRel);
        self.held_bytes.fetch_sub(bytes, Ordering::AcqRel);
    }

    pub(crate) fn stats(&self) -> TransportStats {
        TransportStats {
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            queued: self.held_events.load(Ordering::Relaxed),
        }
    }
}

/// The size an event takes in the `max_queue_bytes` bound.
pub(crate) fn event_bytes(event: &str) -> u64 {
    event.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_counts_events_and_bytes() {
        let counters = Counters::default();
        assert!(counters.reserve(10, 2, 15));
        assert!(!counters.reserve(10, 2, 15), "bytes over the bound");
        assert!(counters.reserve(5, 2, 15));
        assert!(!counters.reserve(0, 2, 15), "events over the bound");
        counters.release(2, 15);
        assert_eq!(counters.stats().queued, 0);
    }
}
