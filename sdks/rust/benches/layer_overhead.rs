//! The tower layer's overhead per request against the same axum handler without it.
//!
//! `cargo bench --bench layer_overhead` (optionally `-- <requests per round> <rounds>`). Each
//! round serves the same requests in-process (`oneshot` on the router, no sockets, so the
//! layer's cost is not hidden under the network's) through a bare router and a traced one, in
//! alternating order; the traced client sends its events to a collector on loopback in the same
//! runtime, so the time includes encoding, batching, gzip and sending of the 2 events per
//! request. Both variants yield to the runtime every 64 requests.
//! Prints the median time per request of each variant and their difference and ratio.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use raceway_client::middleware::RacewayLayer;
use raceway_client::RacewayClient;
use tower::ServiceExt;

async fn handler() -> &'static str {
    "ok"
}

fn app() -> Router {
    Router::new().route("/items/{id}", get(handler))
}

async fn serve_requests(router: &Router, n: usize, with_headers: bool) -> Duration {
    let started = Instant::now();
    for i in 0..n {
        let mut request = Request::get(format!("/items/{}", i % 100));
        if with_headers {
            request = request
                .header(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                )
                .header("x-raceway-vc", r#"{"web#0a1b2c3d":5}"#);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        // A server yields to other tasks between requests; without it the transport task on
        // this single-threaded runtime would never run and every event would be dropped.
        if i % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    started.elapsed()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().filter(|a| !a.starts_with('-')).collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(7);

    // A collector that accepts every batch.
    let sink = Router::new().route("/v1/events", post(|| async { StatusCode::OK }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, sink).await.unwrap() });

    let client = RacewayClient::builder()
        .service_name("bench")
        .server_url(url)
        .build()
        .unwrap();
    let bare = app();
    let traced = app().layer(RacewayLayer::new(&client));

    // Warm-up: allocator, connection to the collector, code paths.
    serve_requests(&bare, n / 10, false).await;
    serve_requests(&traced, n / 10, false).await;

    let mut results: Vec<(&str, Vec<f64>)> = vec![
        ("bare", vec![]),
        ("layer, new trace", vec![]),
        ("layer, joined trace", vec![]),
    ];
    for round in 0..rounds {
        let mut order = [0usize, 1, 2];
        order.rotate_left(round % 3);
        for variant in order {
            let elapsed = match variant {
                0 => serve_requests(&bare, n, false).await,
                1 => serve_requests(&traced, n, false).await,
                _ => serve_requests(&traced, n, true).await,
            };
            results[variant]
                .1
                .push(elapsed.as_nanos() as f64 / n as f64);
        }
    }
    let stats = client.shutdown().await;

    println!("layer overhead: {n} requests per round, {rounds} rounds, median ns per request");
    let base = median(results[0].1.clone());
    for (name, values) in &results {
        let m = median(values.clone());
        println!(
            "{name:>22}: {m:>9.0} ns  (+{:>6.0} ns, x{:.2})",
            m - base,
            m / base
        );
    }
    println!(
        "events delivered {}, dropped {}",
        stats.delivered, stats.dropped
    );
}
