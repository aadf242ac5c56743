//! The background task: batches queued events, gzips each batch once and posts it, following
//! spec 4.2: up to [`MAX_BATCHES_IN_FLIGHT`] requests at once while the collector takes them,
//! one at a time while it is failing. A batch answered `retry` goes back to the end of the
//! queue with its body (so its event ids) and its room in the bound, behind the events recorded
//! before the answer, and the batches behind it go first; while the collector is failing, each
//! request waits the retry delay counted over the consecutive failures. A batch is given up
//! only at 5 strikes (see [`Strikes`]). It uses a plain `reqwest::Client`, never one with
//! Raceway's middleware, so the SDK never traces its own calls.

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Url;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::shared::{event_bytes, Command, Counters};
use super::warnings::DeliveryWarnings;
use crate::config::Config;
use crate::delivery::{classify, count_rejected, parse_retry_after, retry_delay, Outcome};

/// How many batches are sent at once while the collector takes them: a collector that takes a
/// few milliseconds to make a batch durable would otherwise bound a busy service's export rate
/// (the Go and TypeScript SDKs send as many).
pub(crate) const MAX_BATCHES_IN_FLIGHT: usize = 3;
/// A batch with this many strikes is dropped (spec 4.2, "Giving up"): see [`Strikes`].
const GIVE_UP_AT_STRIKES: u32 = 5;
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
    max_retries: Option<u32>,
    request_timeout: Duration,
    debug: bool,
    warnings: Arc<DeliveryWarnings>,
    /// [`MAX_BATCHES_IN_FLIGHT`], but in tests that need one request at a time.
    batches_in_flight: usize,
}

impl WorkerSettings {
    pub(crate) fn from_config(
        config: &Config,
        warnings: Arc<DeliveryWarnings>,
        batches_in_flight: usize,
    ) -> Self {
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
            warnings,
            batches_in_flight: batches_in_flight.max(1),
        }
    }
}

/// A batch taken from the queue and encoded once: every attempt sends the same bytes.
struct Batch {
    /// Its place in the order batches were made, which flushes wait on.
    seq: u64,
    events: usize,
    /// The encoded size of its events: its room in the `max_queue_bytes` bound, kept until it
    /// leaves the transport.
    bytes: u64,
    body: Vec<u8>,
    /// The drop count its body reports (given back when the batch is dropped).
    reported: u64,
    /// How many times the collector answered `retry` to it (what `max_retries` bounds).
    retry_answers: u32,
    strikes: Strikes,
}

/// The strikes against one batch (spec 4.2, "Giving up"): a `retry` answer is a strike when the
/// collector delivered another batch since the batch's previous answer (for its first answer:
/// since it was sent). Then the collector is up and it is this batch it cannot take; answers
/// during an outage are no strikes, so a batch that waited out a long outage has none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Strikes {
    count: u32,
    /// The worker's count of delivered batches at the batch's sending, then at its last answer.
    delivered_mark: u64,
}

impl Strikes {
    /// The batch is sent for the first time, when `delivered` batches were delivered so far.
    fn sent(&mut self, delivered: u64) {
        self.delivered_mark = delivered;
    }

    /// The batch was answered `retry`, when `delivered` batches were delivered so far; returns
    /// its strikes.
    fn retry_answer(&mut self, delivered: u64) -> u32 {
        if delivered > self.delivered_mark {
            self.count += 1;
        }
        self.delivered_mark = delivered;
        self.count
    }
}

/// What an attempt got back.
struct Answer {
    status: Option<u16>,
    /// Why there was no answer (`status` is `None`): the error and its causes.
    error: Option<String>,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

struct Worker {
    settings: WorkerSettings,
    poster: Poster,
    counters: Arc<Counters>,
    deadline: watch::Receiver<Option<Instant>>,
    /// Events not yet in a batch, and their encoded size.
    current: Vec<String>,
    current_bytes: usize,
    /// When `current` is cut into a batch even if not full.
    flush_at: Option<tokio::time::Instant>,
    queue: VecDeque<Batch>,
    /// The batches whose request is in progress, and those requests (each answers with its
    /// batch's seq; `request_seqs` finds the seq of one that failed without answering).
    in_flight: Vec<Batch>,
    requests: JoinSet<(u64, Answer)>,
    request_seqs: HashMap<tokio::task::Id, u64>,
    next_seq: u64,
    /// Flushes waiting for every batch made before them (seq below the target) to leave.
    waiters: Vec<(u64, oneshot::Sender<()>)>,
    /// `retry` answers in a row, over every batch: the collector is failing while above 0.
    failures: u32,
    /// When the next request may start, while the collector is failing.
    retry_at: Option<tokio::time::Instant>,
    /// Batches the collector took so far (`delivered` and `partial` answers): what strikes are
    /// counted against.
    delivered_batches: u64,
}

pub(crate) async fn run(
    rx: mpsc::UnboundedReceiver<Command>,
    settings: WorkerSettings,
    counters: Arc<Counters>,
    deadline: watch::Receiver<Option<Instant>>,
) {
    let http = reqwest::Client::builder()
        .timeout(settings.request_timeout)
        .build()
        .unwrap_or_default();
    let poster = Poster {
        http,
        endpoint: settings.endpoint.clone(),
        authorization: settings.authorization.clone(),
        debug: settings.debug,
    };
    let worker = Worker {
        settings,
        poster,
        counters,
        deadline,
        current: Vec::new(),
        current_bytes: 0,
        flush_at: None,
        queue: VecDeque::new(),
        in_flight: Vec::new(),
        requests: JoinSet::new(),
        request_seqs: HashMap::new(),
        next_seq: 0,
        waiters: Vec::new(),
        failures: 0,
        retry_at: None,
        delivered_batches: 0,
    };
    worker.run(rx).await;
}

/// Sleeps until `at`, forever when `None`.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Resolves once a shutdown deadline is set and has passed.
async fn deadline_passed(mut deadline: watch::Receiver<Option<Instant>>) {
    loop {
        let at = *deadline.borrow_and_update();
        tokio::select! {
            () = sleep_until(at.map(Into::into)) => return,
            changed = deadline.changed() => {
                if changed.is_err() {
                    // The client is gone: no other deadline will come.
                    sleep_until(at.map(Into::into)).await;
                    return;
                }
            }
        }
    }
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        // Whether the channel may still give commands; after a shutdown it is closed and gives
        // what was sent before.
        let mut open = true;
        let mut shutdown: Option<oneshot::Sender<()>> = None;
        loop {
            if self.past_deadline() {
                self.abandon(&mut rx, &mut shutdown);
                break;
            }
            self.receive_sent(&mut rx, &mut shutdown, &mut open);
            if self.queue.is_empty() && self.in_flight.is_empty() && !open {
                break;
            }
            // The client is gone without a shutdown: one attempt per batch, no waiting.
            let closing = !open && shutdown.is_none();
            self.start_requests(closing);
            let retry_at = self
                .retry_at
                .filter(|_| !self.queue.is_empty() && self.in_flight.is_empty());
            tokio::select! {
                Some(answered) = self.requests.join_next_with_id(), if !self.in_flight.is_empty() => {
                    let (seq, answer) = match answered {
                        Ok((id, (seq, answer))) => {
                            self.request_seqs.remove(&id);
                            (Some(seq), answer)
                        }
                        // The request's task panicked: as if the collector had not answered.
                        Err(error) => (self.request_seqs.remove(&error.id()), Answer::none(error.to_string())),
                    };
                    if let Some(batch) = seq.and_then(|seq| self.answered(seq, answer, closing)) {
                        // Back to the end of the queue, behind the events recorded before its
                        // answer: with traffic, another batch goes before its next attempt.
                        self.receive_sent(&mut rx, &mut shutdown, &mut open);
                        self.queue.push_back(batch);
                    }
                    self.resolve_waiters();
                },
                command = rx.recv(), if open => match command {
                    Some(command) => self.command(command, &mut rx, &mut shutdown),
                    None => {
                        open = false;
                        self.cut();
                    }
                },
                () = sleep_until(self.flush_at) => self.cut(),
                () = sleep_until(retry_at) => {}
                () = deadline_passed(self.deadline.clone()) => {}
            }
        }
        for (_, waiter) in self.waiters.drain(..) {
            let _ = waiter.send(());
        }
        if let Some(ack) = shutdown {
            let _ = ack.send(());
        }
    }

    /// Takes every command sent so far; the events become batches (full ones are cut).
    fn receive_sent(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Command>,
        shutdown: &mut Option<oneshot::Sender<()>>,
        open: &mut bool,
    ) {
        while *open {
            match rx.try_recv() {
                Ok(command) => self.command(command, rx, shutdown),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    *open = false;
                    self.cut();
                }
            }
        }
    }

    fn command(
        &mut self,
        command: Command,
        rx: &mut mpsc::UnboundedReceiver<Command>,
        shutdown: &mut Option<oneshot::Sender<()>>,
    ) {
        match command {
            Command::Event(event) => self.push(event),
            Command::Flush(ack) => {
                self.cut();
                self.waiters.push((self.next_seq, ack));
                self.resolve_waiters();
            }
            Command::Shutdown(ack) => {
                // What is sent from now on is refused (dropped and counted by the sender); what
                // was sent before still comes, then the channel reports its end.
                rx.close();
                match shutdown {
                    // A second shutdown: acknowledged at once, the first one does the work.
                    Some(_) => drop(ack.send(())),
                    None => *shutdown = Some(ack),
                }
            }
        }
    }

    fn push(&mut self, event: String) {
        if self.current_bytes + event.len() > MAX_BATCH_BYTES {
            self.cut();
        }
        if self.current.is_empty() {
            self.flush_at = Some(tokio::time::Instant::now() + self.settings.flush_interval);
        }
        self.current_bytes += event.len() + 1;
        self.current.push(event);
        if self.current.len() >= self.settings.batch_size {
            self.cut();
        }
    }

    /// Makes a batch of the events not yet in one, at the end of the queue.
    fn cut(&mut self) {
        self.flush_at = None;
        if self.current.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.current);
        self.current_bytes = 0;
        let bytes = events.iter().map(|e| event_bytes(e)).sum();
        let reported = self.counters.take_unreported();
        let Some(body) = encode(&events, reported) else {
            self.counters.restore_unreported(reported);
            self.counters.add_dropped(events.len() as u64);
            self.counters.release(events.len(), bytes);
            return;
        };
        self.queue.push_back(Batch {
            seq: self.next_seq,
            events: events.len(),
            bytes,
            body,
            reported,
            retry_answers: 0,
            strikes: Strikes::default(),
        });
        self.next_seq += 1;
    }

    /// Acknowledges the flushes whose batches have all left the transport.
    fn resolve_waiters(&mut self) {
        if self.waiters.is_empty() {
            return;
        }
        let oldest = (self.queue.iter().chain(&self.in_flight))
            .map(|b| b.seq)
            .min()
            .unwrap_or(u64::MAX);
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiters)
            .into_iter()
            .partition(|(target, _)| *target <= oldest);
        self.waiters = waiting;
        for (_, ack) in done {
            let _ = ack.send(());
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.borrow().is_some_and(|d| Instant::now() >= d)
    }

    /// Starts the requests of the batches at the head of the queue (spec 4.2): while the
    /// collector takes batches, until `batches_in_flight` are in flight; while it is failing,
    /// one at a time, once the retry delay has passed (at once when `closing`).
    fn start_requests(&mut self, closing: bool) {
        while !self.queue.is_empty() {
            if self.failures > 0 {
                let now = tokio::time::Instant::now();
                let waiting = self.retry_at.is_some_and(|at| at > now);
                if !self.in_flight.is_empty() || (waiting && !closing) {
                    return;
                }
            } else if self.in_flight.len() >= self.settings.batches_in_flight {
                return;
            }
            let Some(mut batch) = self.queue.pop_front() else {
                return;
            };
            if batch.retry_answers == 0 {
                batch.strikes.sent(self.delivered_batches);
            }
            let (poster, body, seq) = (self.poster.clone(), batch.body.clone(), batch.seq);
            let request = self
                .requests
                .spawn(async move { (seq, poster.post(body).await) });
            self.request_seqs.insert(request.id(), seq);
            self.in_flight.push(batch);
        }
    }

    /// Acts on the answer to the batch `seq` (spec 4.1, 4.2); returns the batch when it is to
    /// be retried, for the caller to put back in the queue.
    fn answered(&mut self, seq: u64, answer: Answer, closing: bool) -> Option<Batch> {
        let at = self.in_flight.iter().position(|b| b.seq == seq)?;
        let mut batch = self.in_flight.remove(at);
        let count = batch.events as u64;
        match classify(answer.status) {
            Outcome::Delivered => {
                self.succeeded();
                self.counters.add_delivered(count);
                self.leave(&batch);
            }
            Outcome::Partial => {
                self.succeeded();
                let rejected = count_rejected(&answer.body, batch.events) as u64;
                self.counters.add_delivered(count - rejected);
                // The body's drop count did reach the collector: nothing to give back.
                batch.reported = 0;
                self.drop_batch(&batch, rejected, "events rejected by the collector (422)");
            }
            Outcome::Dropped => {
                // An answer, so the next request need not wait; but only a delivery ends a
                // failure (spec 4.2): the count of failures in a row stays.
                self.retry_at = None;
                let status = answer.status.unwrap_or(0);
                let why = format!("batch refused by the collector ({status})");
                self.drop_batch_answered(&batch, count, &why, answer.status);
            }
            Outcome::Retry => return self.failed(batch, &answer, closing),
        }
        None
    }

    /// A `delivered` or `partial` answer: the collector is not failing (any more).
    fn succeeded(&mut self) {
        if self.failures > 0 {
            self.settings.warnings.recovered(self.failures);
        }
        self.delivered_batches += 1;
        self.failures = 0;
        self.retry_at = None;
    }

    /// A `retry` answer: the next request waits, and the batch is returned to go back to the
    /// end of the queue, unless it is given up.
    fn failed(&mut self, mut batch: Batch, answer: &Answer, closing: bool) -> Option<Batch> {
        let why = match (answer.status, &answer.error) {
            (Some(status), _) => format!("HTTP {status}"),
            (None, Some(error)) => format!("collector unreachable: {error}"),
            (None, None) => "collector unreachable: no answer".to_owned(),
        };
        let held = self.counters.stats().queued as u64;
        self.settings
            .warnings
            .failing(&why, held, std::time::Instant::now());
        let delay = retry_delay(self.failures, fastrand::f64(), answer.retry_after);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(tokio::time::Instant::now() + delay);
        batch.retry_answers = batch.retry_answers.saturating_add(1);
        let strikes = batch.strikes.retry_answer(self.delivered_batches);
        let count = batch.events as u64;
        if strikes >= GIVE_UP_AT_STRIKES {
            let why =
                format!("the collector failed on this batch {strikes} times while taking others");
            self.drop_batch(&batch, count, &why);
        } else if self
            .settings
            .max_retries
            .is_some_and(|max| batch.retry_answers > max)
        {
            self.drop_batch(&batch, count, "max_retries exhausted");
        } else if closing {
            self.drop_batch(
                &batch,
                count,
                "the client is gone and the collector failing",
            );
        } else {
            return Some(batch);
        }
        None
    }

    /// The batch leaves the transport: its room in the bound is given back.
    fn leave(&self, batch: &Batch) {
        self.counters.release(batch.events, batch.bytes);
    }

    /// The batch leaves the transport with `count` of its events dropped.
    fn drop_batch(&self, batch: &Batch, count: u64, why: &str) {
        self.drop_batch_answered(batch, count, why, None);
    }

    /// [`Self::drop_batch`] for a batch the collector answered with `status`.
    fn drop_batch_answered(&self, batch: &Batch, count: u64, why: &str, status: Option<u16>) {
        self.leave(batch);
        self.counters.restore_unreported(batch.reported);
        if count == 0 {
            return;
        }
        self.counters.add_dropped(count);
        self.settings
            .warnings
            .dropped(count, why, status, std::time::Instant::now());
    }

    /// The shutdown deadline passed: everything held, and whatever is still in the channel, is
    /// dropped and counted.
    fn abandon(
        &mut self,
        rx: &mut mpsc::UnboundedReceiver<Command>,
        shutdown: &mut Option<oneshot::Sender<()>>,
    ) {
        rx.close();
        while let Ok(command) = rx.try_recv() {
            match command {
                Command::Event(event) => self.push(event),
                Command::Flush(ack) => self.waiters.push((0, ack)),
                Command::Shutdown(ack) => match shutdown {
                    Some(_) => drop(ack.send(())),
                    None => *shutdown = Some(ack),
                },
            }
        }
        self.cut();
        // The requests in progress are called off: their batches are dropped with the rest.
        self.requests.abort_all();
        self.request_seqs.clear();
        let held = std::mem::take(&mut self.in_flight)
            .into_iter()
            .chain(std::mem::take(&mut self.queue));
        for batch in held {
            self.drop_batch(&batch, batch.events as u64, "shutdown deadline reached");
        }
    }
}

/// What a request to the collector needs: cloned into each request's task.
#[derive(Clone)]
struct Poster {
    http: reqwest::Client,
    endpoint: Url,
    authorization: Option<HeaderValue>,
    debug: bool,
}

impl Answer {
    /// No answer came, for `error`.
    fn none(error: String) -> Self {
        Answer {
            status: None,
            error: Some(error),
            retry_after: None,
            body: Vec::new(),
        }
    }
}

impl Poster {
    async fn post(self, body: Vec<u8>) -> Answer {
        let mut request = self
            .http
            .post(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_ENCODING, "gzip")
            .body(body);
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let body = if status == 422 {
                    response
                        .bytes()
                        .await
                        .map(|b| b.to_vec())
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                Answer {
                    status: Some(status),
                    error: None,
                    retry_after,
                    body,
                }
            }
            Err(error) => {
                let error = error_chain(&error);
                if self.debug {
                    tracing::debug!(target: "raceway", %error, "cannot reach the collector");
                }
                Answer::none(error)
            }
        }
    }
}

/// An error and its causes on one line, `a: b: c`: reqwest's own message names the request,
/// its causes say what failed (connection refused, a TLS certificate, a timeout).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some layers repeat their cause's message in their own.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A batch's body, gzipped: `{"sdk":...,"dropped":n,"events":[...]}`.
fn encode(events: &[String], dropped: u64) -> Option<Vec<u8>> {
    let size: usize = events.iter().map(|e| e.len() + 1).sum();
    let mut encoder = GzEncoder::new(Vec::with_capacity(size / 4), Compression::fast());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers `retry` to a batch sent when `delivered` batches were delivered, each answer
    /// coming when the collector had delivered the given count; returns the strikes after each.
    fn strikes_after(sent_at: u64, answers_at: &[u64]) -> Vec<u32> {
        let mut strikes = Strikes::default();
        strikes.sent(sent_at);
        answers_at
            .iter()
            .map(|&delivered| strikes.retry_answer(delivered))
            .collect()
    }

    #[test]
    fn the_first_answer_is_a_strike_only_when_another_batch_went_through_since_sending() {
        assert_eq!(strikes_after(3, &[3]), [0]);
        assert_eq!(strikes_after(3, &[4]), [1]);
    }

    #[test]
    fn with_traffic_a_batch_has_its_fifth_strike_at_its_sixth_answer() {
        // One request at a time: nothing is delivered while the first attempt is in flight,
        // then other batches go through between its attempts.
        assert_eq!(
            strikes_after(10, &[10, 11, 12, 14, 15, 20]),
            [0, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn answers_during_an_outage_are_no_strikes() {
        // Eight answers with nothing delivered in between, then the collector is back: another
        // batch is delivered, and this one fails once more: its first strike, not its ninth.
        let mut answers = vec![0; 8];
        answers.push(1);
        assert_eq!(strikes_after(0, &answers), [0, 0, 0, 0, 0, 0, 0, 0, 1]);
        // Deliveries during a failing spell only count once per answer.
        assert_eq!(strikes_after(0, &[0, 7, 7, 7, 9]), [0, 1, 1, 1, 2]);
    }
}
