//! The transport against a collector on loopback: batches, gzip, spec 4.1 answers, retries,
//! shutdown, and a dead collector.

mod common;

use std::time::{Duration, Instant};

use common::collector::{client_for, FakeCollector};
use common::schema::assert_valid_event;
use http::HeaderMap;
use raceway_client::propagation::extract;
use raceway_client::{RacewayClient, StateAccess};

/// Records `n` state writes in a new context of `client`.
async fn record_writes(client: &RacewayClient, n: usize) {
    let context = client
        .start_context(&extract(&HeaderMap::new()))
        .expect("enabled");
    context
        .scope(async {
            for i in 0..n {
                client.track_state_write("stock/1", StateAccess::value(&i));
            }
        })
        .await;
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
    // A port nobody listens on: every send is a connection error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = RacewayClient::builder()
        .service_name("inventory")
        .server_url(url)
        .max_queue_size(100)
        .batch_size(10)
        .max_retries(100)
        .build()
        .unwrap();
    let started = Instant::now();
    record_writes(&client, 20_000).await;
    // Recording never waits for the transport: 20k events take well under the time of even
    // one backoff round.
    assert!(started.elapsed() < Duration::from_secs(5));
    let stats = client.stats();
    assert!(stats.queued <= 100, "queue bounded: {stats:?}");
    // What the queue and the batch in flight could not hold was dropped and counted.
    assert!(stats.dropped >= 20_000 - 100 - 10, "{stats:?}");
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
