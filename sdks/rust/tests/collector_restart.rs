//! Spec 4.2 under load, as the TypeScript SDK's `transport.collector-restart` test: a service
//! records 1,000 events a second, the collector goes down for 30 s and comes back on the same
//! port, and with the default transport settings no event is lost.
//!
//! A test binary of its own, with this one test: cargo runs test binaries one after another, so
//! no other test competes with it for the CPU (its producer must keep up with the clock).

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::collector::FakeCollector;
use http::HeaderMap;
use raceway_client::propagation::extract;
use raceway_client::{RacewayClient, StateAccess};

const EVENTS_PER_SECOND: u64 = 1000;
const UP_BEFORE: Duration = Duration::from_secs(2);
const DOWN: Duration = Duration::from_secs(30);
const UP_AFTER: Duration = Duration::from_secs(2);
/// Default `batch_size`: at most one batch is in flight when the collector stops.
const BATCH: u64 = 200;

/// Records events at a steady `EVENTS_PER_SECOND` whatever the timer drift (each tick catches
/// up to the clock), a new request every 10 events, until `stop`; `recorded` counts them.
async fn produce(client: RacewayClient, recorded: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_millis(10));
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        ticks.tick().await;
        let due = started.elapsed().as_millis() as u64 * EVENTS_PER_SECOND / 1000;
        while n < due {
            let request = (due - n).min(10);
            let context = client
                .start_context(&extract(&HeaderMap::new()))
                .expect("enabled");
            context.sync_scope(|| {
                for i in 0..request {
                    client.track_state_write("stock/1", StateAccess::value(&(n + i)));
                }
            });
            n += request;
            recorded.store(n, Ordering::SeqCst);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_down_for_30_s_under_1000_events_per_second_loses_nothing() {
    let collector = FakeCollector::start().await;
    // Default transport settings, the promise the README makes; no process environment.
    let config = RacewayClient::builder()
        .service_name("load")
        .server_url(&collector.url)
        .resolve_with_env(&|_| None)
        .expect("config");
    let client = RacewayClient::from_config(config);
    let recorded = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = tokio::spawn(produce(
        client.clone(),
        Arc::clone(&recorded),
        Arc::clone(&stop),
    ));

    tokio::time::sleep(UP_BEFORE).await;
    collector.stop().await;
    let recorded_at_crash = recorded.load(Ordering::SeqCst);
    let delivered_at_crash = client.stats().delivered;
    tokio::time::sleep(DOWN).await;
    let recorded_while_down = recorded.load(Ordering::SeqCst) - recorded_at_crash;
    let stats = client.stats();
    assert_eq!(stats.dropped, 0, "nothing given up while down: {stats:?}");
    assert!(
        stats.delivered <= delivered_at_crash + BATCH,
        "only the batch in flight at the crash: {stats:?}"
    );
    assert!(
        recorded_while_down > 28_000,
        "1,000 events/s for 30 s: {recorded_while_down}"
    );
    collector.restart().await;
    tokio::time::sleep(UP_AFTER).await;
    stop.store(true, Ordering::SeqCst);
    producer.await.expect("the producer");

    tokio::time::timeout(Duration::from_secs(60), client.flush())
        .await
        .expect("flush ends once the collector is back");
    let recorded = recorded.load(Ordering::SeqCst);
    let stats = client.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert_eq!(stats.queued, 0, "{stats:?}");
    assert_eq!(stats.delivered, recorded, "{stats:?}");
    // The collector's own count: every event once.
    let ids: BTreeSet<String> = collector
        .events()
        .iter()
        .map(|event| event["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids.len() as u64,
        recorded,
        "every event reached the collector"
    );
    client.shutdown().await;
}
