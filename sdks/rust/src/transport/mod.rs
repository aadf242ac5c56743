//! Delivery of events to the collector: a queue bounded in events and bytes that never blocks
//! the application, and a background task that batches, compresses and sends, as spec 4.1 and
//! 4.2 say (the functions of the policy are in [`crate::delivery`]).

mod shared;
mod warnings;
mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::config::Config;

pub use shared::TransportStats;
use shared::{event_bytes, Command, Counters};
pub(crate) use warnings::warn;
use warnings::DeliveryWarnings;
pub(crate) use worker::{WorkerSettings, MAX_BATCHES_IN_FLIGHT};

/// The application side of the transport: enqueueing never waits.
pub(crate) struct Transport {
    /// Unbounded: the bound is [`Counters::reserve`], which counts what the background task
    /// holds as well.
    tx: mpsc::UnboundedSender<Command>,
    counters: Arc<Counters>,
    deadline: watch::Sender<Option<Instant>>,
    max_queue_size: usize,
    max_queue_bytes: u64,
    warnings: Arc<DeliveryWarnings>,
}

impl Transport {
    /// Starts the background task on the current tokio runtime, or on a thread of its own when
    /// there is none (a client built before the runtime). It sends up to `batches_in_flight`
    /// batches at once ([`MAX_BATCHES_IN_FLIGHT`] but in tests).
    pub(crate) fn start(config: &Config, batches_in_flight: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let (deadline, deadline_rx) = watch::channel(None);
        let warnings = Arc::new(DeliveryWarnings::new(
            config.endpoint.as_str(),
            config.debug,
        ));
        let settings =
            WorkerSettings::from_config(config, Arc::clone(&warnings), batches_in_flight);
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
                    tracing::error!(
                        target: "raceway",
                        %error,
                        "cannot start the transport thread: no event will be sent"
                    );
                }
            }
        }
        Transport {
            tx,
            counters,
            deadline,
            max_queue_size: config.max_queue_size,
            max_queue_bytes: config.max_queue_bytes,
            warnings,
        }
    }

    /// Queues one encoded event; a full queue (collector slow or gone) drops it and counts it.
    pub(crate) fn enqueue(&self, event: String) {
        let bytes = event_bytes(&event);
        let queued = self
            .counters
            .reserve(bytes, self.max_queue_size, self.max_queue_bytes);
        if !queued {
            self.count_refused("event queue full");
        } else if self.tx.send(Command::Event(event)).is_err() {
            self.counters.release(1, bytes);
            self.count_refused("event recorded after shutdown");
        }
    }

    fn count_refused(&self, why: &str) {
        self.counters.add_dropped(1);
        self.warnings
            .dropped(1, why, None, std::time::Instant::now());
    }

    pub(crate) fn stats(&self) -> TransportStats {
        self.counters.stats()
    }

    /// Resolves when every event queued before the call has left the transport: delivered,
    /// rejected or dropped. With a collector that is down this lasts until it is back (retries
    /// have no limit by default); [`Transport::shutdown`] has a time limit.
    pub(crate) async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Command::Flush(ack)).is_ok() {
            let _ = done.await;
        }
    }

    /// Flushes and stops the background task, waiting at most `timeout`; what is still
    /// undelivered then is dropped and counted.
    pub(crate) async fn shutdown(&self, timeout: Duration) -> TransportStats {
        let deadline = Instant::now() + timeout;
        self.deadline.send_replace(Some(deadline));
        let (ack, done) = oneshot::channel();
        if self.tx.send(Command::Shutdown(ack)).is_ok() {
            // The task gives up at the deadline by itself; a little slack lets it count what
            // it dropped before the stats are read.
            let slack = Duration::from_millis(100);
            let stopped = tokio::time::timeout_at((deadline + slack).into(), done).await;
            if stopped.is_err() {
                tracing::warn!(
                    target: "raceway",
                    ?timeout,
                    "shutdown timed out: undelivered events are dropped"
                );
            }
        }
        self.stats()
    }
}
