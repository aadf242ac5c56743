//! The background task: batches queued events, gzips each batch and posts it, retrying what
//! spec 4.1 says to retry with jittered backoff. It uses a plain `reqwest::Client`, never one
//! with Raceway's middleware, so the SDK never traces its own calls.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Url;
use tokio::sync::{mpsc, watch};

use super::outcome::{
    backoff_delay, classify_status, count_rejected, parse_retry_after, SendOutcome,
};
use super::{Command, Counters};
use crate::config::Config;

const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// Uncompressed bytes per batch at most, well under the collector's default body limit.
const MAX_BATCH_BYTES: usize = 1024 * 1024;
const SDK_JSON: &str = concat!(
    r#"{"name":"raceway-client","version":""#,
    env!("CARGO_PKG_VERSION"),
    r#"","language":"rust"}"#
);

pub(crate) struct WorkerSettings {
    endpoint: Url,
    authorization: Option<HeaderValue>,
    batch_size: usize,
    flush_interval: Duration,
    max_retries: u32,
    request_timeout: Duration,
    debug: bool,
}

impl WorkerSettings {
    pub(crate) fn from_config(config: &Config) -> Self {
        WorkerSettings {
            endpoint: config.endpoint.clone(),
            authorization: config
                .api_key
                .as_ref()
                .and_then(|key| HeaderValue::from_str(&format!("Bearer {key}")).ok()),
            batch_size: config.batch_size,
            flush_interval: config.flush_interval,
            max_retries: config.max_retries,
            request_timeout: config.request_timeout,
            debug: config.debug,
        }
    }
}

struct Worker {
    settings: WorkerSettings,
    http: reqwest::Client,
    counters: Arc<Counters>,
    deadline: watch::Receiver<Option<Instant>>,
    batch: Vec<String>,
    batch_bytes: usize,
}

pub(crate) async fn run(
    mut rx: mpsc::Receiver<Command>,
    settings: WorkerSettings,
    counters: Arc<Counters>,
    deadline: watch::Receiver<Option<Instant>>,
) {
    let http = reqwest::Client::builder()
        .timeout(settings.request_timeout)
        .build()
        .unwrap_or_default();
    let mut worker = Worker {
        settings,
        http,
        counters,
        deadline,
        batch: Vec::new(),
        batch_bytes: 0,
    };
    let mut flush_at: Option<tokio::time::Instant> = None;
    loop {
        let command = match flush_at {
            Some(at) => tokio::select! {
                command = rx.recv() => command,
                () = tokio::time::sleep_until(at) => {
                    worker.send_batch().await;
                    flush_at = None;
                    continue;
                }
            },
            None => rx.recv().await,
        };
        match command {
            Some(Command::Event(event)) => {
                if worker.batch.is_empty() {
                    flush_at = Some(tokio::time::Instant::now() + worker.settings.flush_interval);
                }
                worker.push(event).await;
            }
            Some(Command::Flush(ack)) => {
                worker.drain(&mut rx).await;
                flush_at = None;
                let _ = ack.send(());
            }
            Some(Command::Shutdown(ack)) => {
                worker.drain(&mut rx).await;
                let _ = ack.send(());
                return;
            }
            None => {
                worker.send_batch().await;
                return;
            }
        }
    }
}

impl Worker {
    async fn push(&mut self, event: String) {
        if self.batch_bytes + event.len() > MAX_BATCH_BYTES && !self.batch.is_empty() {
            self.send_batch().await;
        }
        self.batch_bytes += event.len() + 1;
        self.batch.push(event);
        if self.batch.len() >= self.settings.batch_size {
            self.send_batch().await;
        }
    }

    /// Sends everything queued now, acknowledging flushes that were queued behind it.
    async fn drain(&mut self, rx: &mut mpsc::Receiver<Command>) {
        let mut acks = Vec::new();
        while let Ok(command) = rx.try_recv() {
            match command {
                Command::Event(event) => self.push(event).await,
                Command::Flush(ack) | Command::Shutdown(ack) => acks.push(ack),
            }
        }
        self.send_batch().await;
        for ack in acks {
            let _ = ack.send(());
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.borrow().is_some_and(|d| Instant::now() >= d)
    }

    fn body(&self, events: &[String], dropped: u64) -> Option<Vec<u8>> {
        let mut encoder = GzEncoder::new(
            Vec::with_capacity(self.batch_bytes / 4),
            Compression::fast(),
        );
        let mut head = format!(r#"{{"sdk":{SDK_JSON},"#);
        if dropped > 0 {
            head.push_str(&format!(r#""dropped":{dropped},"#));
        }
        head.push_str(r#""events":["#);
        encoder.write_all(head.as_bytes()).ok()?;
        for (i, event) in events.iter().enumerate() {
            if i > 0 {
                encoder.write_all(b",").ok()?;
            }
            encoder.write_all(event.as_bytes()).ok()?;
        }
        encoder.write_all(b"]}").ok()?;
        encoder.finish().ok()
    }

    async fn send_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let count = events.len() as u64;
        let dropped_before = self.counters.take_unreported();
        let Some(body) = self.body(&events, dropped_before) else {
            self.counters.restore_unreported(dropped_before);
            self.counters.add_dropped(count);
            return;
        };
        drop(events);
        let mut attempt = 0;
        loop {
            let (status, retry_after, answer) = self.post(body.clone()).await;
            match classify_status(status) {
                SendOutcome::Delivered => {
                    self.counters.add_delivered(count);
                    return;
                }
                SendOutcome::Partial => {
                    let rejected = count_rejected(&answer, count as usize) as u64;
                    self.counters.add_delivered(count - rejected);
                    self.drop_batch(rejected, 0, "events rejected by the collector (422)");
                    return;
                }
                SendOutcome::Dropped => {
                    let why = format!("batch refused by the collector ({})", status.unwrap_or(0));
                    self.drop_batch(count, dropped_before, &why);
                    return;
                }
                SendOutcome::Retry => {
                    if attempt >= self.settings.max_retries || self.past_deadline() {
                        self.drop_batch(
                            count,
                            dropped_before,
                            "collector unreachable, retries exhausted",
                        );
                        return;
                    }
                    let jittered =
                        backoff_delay(attempt, BACKOFF_BASE, BACKOFF_CAP, fastrand::f64());
                    let delay = retry_after.map_or(jittered, |d| d.min(BACKOFF_CAP));
                    attempt += 1;
                    if !self.wait(delay).await {
                        self.drop_batch(count, dropped_before, "shutdown deadline reached");
                        return;
                    }
                }
            }
        }
    }

    fn drop_batch(&self, count: u64, unreported: u64, why: &str) {
        self.counters.restore_unreported(unreported);
        let total = self.counters.add_dropped(count);
        if self.settings.debug {
            eprintln!("[raceway] {count} events dropped: {why} ({total} dropped so far)");
        }
    }

    /// Sleeps for `delay`, cut short by a shutdown deadline; false when the deadline passed.
    async fn wait(&mut self, delay: Duration) -> bool {
        let wake = Instant::now() + delay;
        loop {
            let until = match *self.deadline.borrow() {
                Some(deadline) => deadline.min(wake),
                None => wake,
            };
            tokio::select! {
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(until)) => break,
                changed = self.deadline.changed() => {
                    if changed.is_err() {
                        // The client is gone: no deadline will come, sleep out the delay.
                        tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
                        break;
                    }
                }
            }
        }
        !self.past_deadline()
    }

    async fn post(&self, body: Vec<u8>) -> (Option<u16>, Option<Duration>, Vec<u8>) {
        let mut request = self
            .http
            .post(self.settings.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_ENCODING, "gzip")
            .body(body);
        if let Some(authorization) = &self.settings.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                let answer = if status == 422 {
                    response
                        .bytes()
                        .await
                        .map(|b| b.to_vec())
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                (Some(status), retry_after, answer)
            }
            Err(error) => {
                if self.settings.debug {
                    eprintln!("[raceway] cannot reach the collector: {error}");
                }
                (None, None, Vec::new())
            }
        }
    }
}
