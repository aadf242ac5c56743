//! The transport against a collector on loopback: batches, gzip, spec 4.1 answers, retries,
//! shutdown, a dead collector, and the batching and delivery policy of spec 4.2 (a partial
//! batch waits for the interval, a poison batch, a batch that waited out an outage). The
//! collector restart under load is `tests/collector_restart.rs`, a test binary of its own.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::collector::{client_for, FakeCollector};
use common::schema::assert_valid_event;
use http::HeaderMap;
use raceway_client::propagation::extract;
use raceway_client::{RacewayClient, StateAccess};

/// Records `n` state writes in a new context of `client`.
async fn record_writes(client: &RacewayClient, n: usize) {
    record_writes_to(client, "stock/1", n).await;
}

/// Records `n` writes of `resource` in a new context of `client`, in order.
async fn record_writes_to(client: &RacewayClient, resource: &str, n: usize) {
    let context = client
        .start_context(&extract(&HeaderMap::new()))
        .expect("enabled");
    context
        .scope(async {
            for i in 0..n {
                client.track_state_write(resource, StateAccess::value(&i));
            }
        })
        .await;
}

/// A collector address where nobody listens: every send is a connection error.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test]
async fn shutdown_flushes_every_event_as_valid_gzipped_batches() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "inventory");
    record_writes(&client, 450).await;
    let stats = client.shutdown().await;
    assert_eq!(stats.delivered, 450);
    assert_eq!(stats.dropped, 0);
    let batches = collector.batches();
    assert_eq!(batches.len(), 3, "batches of 200");
    assert_eq!(batches[0]["sdk"]["language"], "rust");
    let events = collector.events();
    assert_eq!(events.len(), 450);
    for event in &events {
        assert_valid_event(event);
    }
    // One context: its own component counts 1..=450 in order.
    let component = events[0]["component"].as_str().unwrap();
    let counters: Vec<u64> = events
        .iter()
        .map(|e| e["clock"][component].as_u64().unwrap())
        .collect();
    assert_eq!(counters, (1..=450).collect::<Vec<_>>());
}

#[tokio::test]
async fn flush_interval_sends_without_being_asked() {
    let collector = FakeCollector::start().await;
    let client = RacewayClient::builder()
        .service_name("inventory")
        .server_url(&collector.url)
        .flush_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    record_writes(&client, 3).await;
    let started = Instant::now();
    while collector.events().len() < 3 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(collector.events().len(), 3);
}

async fn answered_with(status: u16, max_retries: u32) -> (raceway_client::TransportStats, usize) {
    let collector = FakeCollector::start().await;
    collector.answer(status);
    let client = RacewayClient::builder()
        .service_name("inventory")
        .server_url(&collector.url)
        .max_retries(max_retries)
        .build()
        .unwrap();
    record_writes(&client, 5).await;
    let stats = client.shutdown_with_timeout(Duration::from_secs(20)).await;
    (stats, collector.requests())
}

#[tokio::test]
async fn refusals_are_counted_as_dropped_and_never_retried() {
    for status in [400, 401, 413, 415, 422] {
        let (stats, requests) = answered_with(status, 3).await;
        assert_eq!(stats.dropped, 5, "status {status}");
        assert_eq!(stats.delivered, 0, "status {status}");
        assert_eq!(requests, 1, "status {status} is never retried");
    }
}

#[tokio::test]
async fn unavailable_collector_is_retried_with_backoff_then_dropped() {
    for status in [503, 429, 408] {
        let (stats, requests) = answered_with(status, 2).await;
        assert_eq!(requests, 3, "status {status}: one try and two retries");
        assert_eq!(stats.dropped, 5, "status {status}");
    }
}

#[tokio::test]
async fn dead_collector_keeps_memory_bounded_and_never_blocks() {
    // Retried without limit (the default): only the queue bound drops anything.
    let client = RacewayClient::builder()
        .service_name("inventory")
        .server_url(dead_url())
        .max_queue_size(100)
        .batch_size(10)
        .build()
        .unwrap();
    let started = Instant::now();
    record_writes(&client, 20_000).await;
    // Recording never waits for the transport: 20k events take well under the time of even
    // one backoff round.
    assert!(started.elapsed() < Duration::from_secs(5));
    let stats = client.stats();
    assert!(stats.queued <= 100, "queue bounded: {stats:?}");
    // The bound counts the batches in flight and waiting for a retry: what it could not hold
    // was dropped and counted, and nothing else.
    assert_eq!(stats.dropped, 20_000 - stats.queued as u64, "{stats:?}");
    let stats = client
        .shutdown_with_timeout(Duration::from_millis(300))
        .await;
    assert_eq!(stats.delivered, 0);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown respects its deadline"
    );
}

#[tokio::test]
async fn the_queue_is_bounded_in_bytes_too() {
    let client = RacewayClient::builder()
        .service_name("inventory")
        .server_url(dead_url())
        .max_queue_bytes(16 * 1024)
        .batch_size(10)
        .build()
        .unwrap();
    record_writes(&client, 5_000).await;
    let stats = client.stats();
    // A state write encodes to a few hundred bytes: 16 KiB holds a few dozen of them.
    assert!(stats.queued > 0 && stats.queued < 160, "{stats:?}");
    assert_eq!(stats.dropped, 5_000 - stats.queued as u64, "{stats:?}");
    let stats = client
        .shutdown_with_timeout(Duration::from_millis(200))
        .await;
    assert_eq!((stats.dropped, stats.queued), (5_000, 0), "{stats:?}");
}

/// Records `n` writes of `resource` in a new context of `client`, from synchronous code (a
/// handler of the fake collector).
fn record_writes_now(client: &RacewayClient, resource: &str, n: usize) {
    let context = client
        .start_context(&extract(&HeaderMap::new()))
        .expect("enabled");
    context.sync_scope(|| {
        for i in 0..n {
            client.track_state_write(resource, StateAccess::value(&i));
        }
    });
}

/// How many times the collector answered `status` to each batch, by the ids of its events.
fn attempts_answered(collector: &FakeCollector, status: u16) -> BTreeMap<Vec<String>, usize> {
    let mut tries: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for (ids, answered) in collector.attempts() {
        if answered == status {
            *tries.entry(ids).or_default() += 1;
        }
    }
    tries
}

fn received_ids(collector: &FakeCollector) -> BTreeSet<String> {
    collector
        .events()
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Spec 4.2: with traffic, a batch the collector keeps failing on while it takes the others is
/// dropped at its fifth strike, and it holds up nobody meanwhile. Its first answer is no strike
/// (nothing else went through while it was in flight: one request at a time), and every later
/// one is, so it is attempted exactly 6 times. One request at a time here, so that what was
/// delivered between two answers does not depend on timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_batch_is_dropped_at_five_strikes_and_holds_up_nothing() {
    const BATCH: usize = 50;
    const POISON_BATCHES: usize = 3;
    const ATTEMPTS: usize = 6;
    let collector = FakeCollector::start().await;
    let client = RacewayClient::builder()
        .service_name("inventory")
        .server_url(&collector.url)
        .batches_in_flight(1)
        .batch_size(BATCH)
        .flush_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    // Every recording takes this lock for a whole batch of events, so that the events of one
    // recording make one batch of their own (full batches only): a poison batch holds no good
    // event.
    let recording = Arc::new(Mutex::new(()));
    let recorded_by_collector = Arc::new(AtomicUsize::new(0));
    {
        let client = client.clone();
        let recording = Arc::clone(&recording);
        let recorded = Arc::clone(&recorded_by_collector);
        // A batch that breaks the collector in a way nobody foresaw: 503 each time. The
        // service records more good events during every poison attempt, as a live one does:
        // they are queued before the answer, so a good batch goes before the next attempt.
        collector.answer_by(move |batch| {
            if !batch.to_string().contains("poison") {
                return 200;
            }
            let _recording = recording.lock().unwrap();
            record_writes_now(&client, "stock/2", BATCH);
            recorded.fetch_add(BATCH, Ordering::SeqCst);
            503
        });
    }
    let started = Instant::now();
    let (mut good, mut poisoned, mut round) = (0, 0, 0);
    // Until every poison batch is given up (nothing else is dropped).
    let poison_events = (POISON_BATCHES * BATCH) as u64;
    while round < 40 || client.stats().dropped < poison_events {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} poison attempts after a minute",
            collector.answered(503)
        );
        {
            let _recording = recording.lock().unwrap();
            record_writes_now(&client, "stock/1", BATCH);
            good += BATCH;
            round += 1;
            if round % 10 == 0 && poisoned < POISON_BATCHES {
                record_writes_now(&client, "poison", BATCH);
                poisoned += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::timeout(Duration::from_secs(30), client.flush())
        .await
        .expect("flush ends");
    let good = good + recorded_by_collector.load(Ordering::SeqCst);
    let stats = client.stats();
    assert_eq!(stats.delivered, good as u64, "every good event: {stats:?}");
    assert_eq!(stats.dropped, poison_events, "{stats:?}");
    assert_eq!(stats.queued, 0);
    assert_eq!(received_ids(&collector).len(), good, "each good event once");
    // Each poison batch was sent 6 times with the same events (5 strikes), then given up.
    let tries = attempts_answered(&collector, 503);
    assert_eq!(tries.len(), POISON_BATCHES, "{tries:?}");
    assert!(
        tries.values().all(|&n| n == ATTEMPTS),
        "{:?}",
        tries.values()
    );
    assert!(good >= 2_000, "among thousands of good events: {good}");
    client.shutdown().await;
}

/// Spec 4.2: answers during an outage are no strikes. A batch answered `retry` 8 times while
/// every batch failed is not given up when it fails once more after the collector is back
/// (another batch was delivered in between: its first strike, not its ninth failure), and it
/// is delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_waited_out_an_outage_is_not_dropped_when_it_fails_after_it() {
    const BATCH: usize = 20;
    const OUTAGE_ANSWERS: usize = 8;
    let collector = FakeCollector::start().await;
    let client = RacewayClient::builder()
        .service_name("inventory")
        .server_url(&collector.url)
        .batch_size(BATCH)
        .flush_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let old_attempts = Arc::new(AtomicUsize::new(0));
    {
        let client = client.clone();
        let old_attempts = Arc::clone(&old_attempts);
        let outage = AtomicBool::new(true);
        collector.answer_by(move |batch| {
            let old = batch.to_string().contains("recorded-before-the-outage");
            if outage.load(Ordering::SeqCst) {
                // Down: every batch fails. At the old batch's 8th answer the collector comes
                // back, and the service records a new batch meanwhile.
                if old && old_attempts.fetch_add(1, Ordering::SeqCst) + 1 == OUTAGE_ANSWERS {
                    outage.store(false, Ordering::SeqCst);
                    record_writes_now(&client, "recorded-after-the-outage", BATCH);
                }
                return 503;
            }
            if !old {
                return 200;
            }
            // Back: the old batch fails once more (after the new batch was delivered), then
            // goes through.
            match old_attempts.fetch_add(1, Ordering::SeqCst) + 1 {
                n if n == OUTAGE_ANSWERS + 1 => 503,
                _ => 200,
            }
        });
    }
    record_writes_to(&client, "recorded-before-the-outage", BATCH).await;
    tokio::time::timeout(Duration::from_secs(60), client.flush())
        .await
        .expect("flush ends");
    let stats = client.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert_eq!(stats.delivered, 2 * BATCH as u64, "{stats:?}");
    assert_eq!(received_ids(&collector).len(), 2 * BATCH);
    // The same old batch: 8 answers during the outage, one failure after, then delivered;
    // the new one at once.
    let failed = attempts_answered(&collector, 503);
    assert_eq!(failed.values().collect::<Vec<_>>(), [&(OUTAGE_ANSWERS + 1)]);
    let delivered = attempts_answered(&collector, 200);
    assert_eq!(delivered.values().collect::<Vec<_>>(), [&1, &1]);
    assert!(delivered.contains_key(failed.keys().next().unwrap()));
    assert_eq!(old_attempts.load(Ordering::SeqCst), OUTAGE_ANSWERS + 2);
    client.shutdown().await;
}

#[tokio::test]
async fn disabled_client_records_nothing() {
    let client = RacewayClient::builder().disabled(true).build().unwrap();
    assert!(client.start_context(&extract(&HeaderMap::new())).is_none());
    assert!(client.get_trace_headers().await.is_empty());
    assert_eq!(
        client.shutdown().await,
        raceway_client::TransportStats::default()
    );
}

#[test]
fn a_client_built_outside_a_runtime_still_delivers() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let collector = runtime.block_on(FakeCollector::start());
    // Built with no runtime entered: the transport starts a thread of its own.
    let client = client_for(&collector.url, "inventory");
    let stats = runtime.block_on(async {
        record_writes(&client, 2).await;
        client.shutdown().await
    });
    assert_eq!(stats.delivered, 2);
}

/// A collector that holds every batch until the test opens its gate, counting the requests in
/// progress and the most there were at once.
#[derive(Default)]
struct HeldCollector {
    /// Every request, counted as it arrives.
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    most: AtomicUsize,
    events: AtomicUsize,
    open: AtomicBool,
    opened: tokio::sync::Notify,
}

async fn held_ingest(
    axum::extract::State(held): axum::extract::State<Arc<HeldCollector>>,
    body: axum::body::Bytes,
) -> &'static str {
    held.requests.fetch_add(1, Ordering::SeqCst);
    let now = held.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    held.most.fetch_max(now, Ordering::SeqCst);
    loop {
        let opened = held.opened.notified();
        if held.open.load(Ordering::SeqCst) {
            break;
        }
        opened.await;
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&body[..]), &mut text)
        .unwrap();
    let batch: serde_json::Value = serde_json::from_str(&text).unwrap();
    let count = batch["events"].as_array().unwrap().len();
    held.events.fetch_add(count, Ordering::SeqCst);
    held.in_flight.fetch_sub(1, Ordering::SeqCst);
    r#"{"accepted":0,"duplicates":0}"#
}

impl HeldCollector {
    /// Serves on loopback; returns the collector and its URL.
    async fn start() -> (Arc<Self>, String) {
        let held = Arc::new(HeldCollector::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/v1/events", axum::routing::post(held_ingest))
            .with_state(Arc::clone(&held));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (held, url)
    }

    /// Waits until `n` requests are held at once.
    async fn wait_until_holding(&self, n: usize) {
        let started = Instant::now();
        while self.in_flight.load(Ordering::SeqCst) < n {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} batch(es) in flight after 30 s, want {n}",
                self.in_flight.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Answers the requests held, and every later one at once.
    fn release(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.opened.notify_waiters();
    }
}

/// A client of `url` sending batches of 10, and partial ones only on a flush (or after an
/// hour); no request gives up (and is retried) while the collector holds it.
fn held_client(url: &str) -> RacewayClient {
    RacewayClient::builder()
        .service_name("inventory")
        .server_url(url)
        .batch_size(10)
        .flush_interval(Duration::from_secs(3600))
        .request_timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// Spec 4.2 with a collector that takes its time to make batches durable: up to 3 batches are
/// in flight at once (as in the Go and TypeScript SDKs), never more, and each is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_to_three_batches_are_in_flight_at_once() {
    let (held, url) = HeldCollector::start().await;
    let client = held_client(&url);
    record_writes_now(&client, "stock/1", 100); // 10 full batches

    // The collector holds what it is sent: with one request at a time this never comes.
    held.wait_until_holding(3).await;
    // Room for a fourth request, which must not come (this wait can only miss one, never make
    // a correct transport fail).
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(held.in_flight.load(Ordering::SeqCst), 3);
    held.release();

    tokio::time::timeout(Duration::from_secs(30), client.flush())
        .await
        .expect("flush ends");
    let stats = client.stats();
    assert_eq!((stats.delivered, stats.dropped, stats.queued), (100, 0, 0));
    assert_eq!(held.events.load(Ordering::SeqCst), 100, "each event once");
    assert_eq!(held.most.load(Ordering::SeqCst), 3, "at most 3 at once");
    client.shutdown().await;
}

/// Spec 4.2, batching: fewer than `batch_size` events go out only when the flush interval runs
/// out (or on a flush): the answer to a full batch does not send what was recorded while it was
/// in flight, or a trickle would go out a round trip's worth at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_does_not_send_a_small_batch() {
    let (held, url) = HeldCollector::start().await;
    let client = held_client(&url);
    record_writes_now(&client, "stock/1", 10); // a full batch: sent at once, held
    held.wait_until_holding(1).await;
    record_writes_now(&client, "stock/1", 3); // recorded while the batch is in flight
    held.release();
    let started = Instant::now();
    while held.events.load(Ordering::SeqCst) < 10 {
        assert!(started.elapsed() < Duration::from_secs(30), "not answered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Time for a second request, which must not come (this wait can only miss one).
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        held.requests.load(Ordering::SeqCst),
        1,
        "requests after the full batch was answered (the 3 events wait for the interval)"
    );
    tokio::time::timeout(Duration::from_secs(30), client.flush())
        .await
        .expect("flush ends");
    assert_eq!(held.events.load(Ordering::SeqCst), 13);
    assert_eq!(held.requests.load(Ordering::SeqCst), 2);
    client.shutdown().await;
}
