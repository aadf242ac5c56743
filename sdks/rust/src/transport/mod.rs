//! Delivery of events to the collector: a bounded queue that never blocks the application, and
//! a background task that batches, compresses and sends with retries (spec 4, 4.1).

mod outcome;
mod worker;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::config::Config;

pub(crate) use worker::WorkerSettings;

/// What the transport has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Events the collector acknowledged as durable.
    pub delivered: u64,
    /// Events dropped: queue full, rejected by the collector, retries exhausted, or recorded
    /// after shutdown.
    pub dropped: u64,
    /// Events waiting in the queue now (at most `max_queue_size`).
    pub queued: usize,
}

pub(crate) enum Command {
    Event(String),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

#[derive(Default)]
pub(crate) struct Counters {
    delivered: AtomicU64,
    dropped: AtomicU64,
    /// Drops not yet reported in a batch's `dropped` field.
    unreported: AtomicU64,
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

    fn stats(&self, queued: usize) -> TransportStats {
        TransportStats {
            delivered: self.delivered.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            queued,
        }
    }
}

/// The application side of the transport: enqueueing never waits.
pub(crate) struct Transport {
    tx: mpsc::Sender<Command>,
    counters: Arc<Counters>,
    deadline: watch::Sender<Option<Instant>>,
    debug: bool,
}

impl Transport {
    /// Starts the background task on the current tokio runtime, or on a thread of its own when
    /// there is none (a client built before the runtime).
    pub(crate) fn start(config: &Config) -> Self {
        let (tx, rx) = mpsc::channel(config.max_queue_size);
        let counters = Arc::new(Counters::default());
        let (deadline, deadline_rx) = watch::channel(None);
        let settings = WorkerSettings::from_config(config);
        let worker = worker::run(rx, settings, Arc::clone(&counters), deadline_rx);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(worker);
            }
            Err(_) => {
                let spawned = std::thread::Builder::new()
                    .name("raceway-transport".into())
                    .spawn(move || {
                        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                        {
                            runtime.block_on(worker);
                        }
                    });
                if let Err(error) = spawned {
                    eprintln!("[raceway] cannot start the transport thread: {error}");
                }
            }
        }
        Transport {
            tx,
            counters,
            deadline,
            debug: config.debug,
        }
    }

    /// Queues one encoded event; a full queue (collector slow or gone) drops it and counts it.
    pub(crate) fn enqueue(&self, event: String) {
        if self.tx.try_send(Command::Event(event)).is_err() {
            let total = self.counters.add_dropped(1);
            if self.debug && total.is_power_of_two() {
                eprintln!("[raceway] event queue full or closed: {total} events dropped so far");
            }
        }
    }

    pub(crate) fn stats(&self) -> TransportStats {
        self.counters
            .stats(self.tx.max_capacity() - self.tx.capacity())
    }

    /// Sends everything queued now; resolves when it was delivered or given up.
    pub(crate) async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Command::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Flushes and stops the background task, waiting at most `timeout`; what is still
    /// undelivered then is dropped and counted.
    pub(crate) async fn shutdown(&self, timeout: Duration) -> TransportStats {
        let deadline = Instant::now() + timeout;
        self.deadline.send_replace(Some(deadline));
        let (ack, done) = oneshot::channel();
        let deadline = tokio::time::Instant::from_std(deadline);
        let stopped = tokio::time::timeout_at(deadline, async {
            if self.tx.send(Command::Shutdown(ack)).await.is_ok() {
                let _ = done.await;
            }
        })
        .await;
        if stopped.is_err() && self.debug {
            eprintln!("[raceway] shutdown timed out; undelivered events are dropped");
        }
        self.stats()
    }
}
