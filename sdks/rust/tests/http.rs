//! The tower layer and the reqwest middleware over real servers on loopback.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Path;
use axum::routing::get;
use axum::{Extension, Router};
use common::collector::{client_for, of_kind, FakeCollector};
use common::schema::assert_valid_event;
use raceway_client::clock::{decode_clock, ClockOrder, VectorClock};
use raceway_client::middleware::RacewayLayer;
use raceway_client::reqwest_middleware::RacewayMiddleware;
use raceway_client::{PropagateTo, RacewayClient, StateAccess};
use serde_json::Value;

/// Serves `app` on 127.0.0.1:0; the server stops when the test's runtime ends.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    url
}

fn clock_of(event: &Value) -> VectorClock {
    event["clock"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

fn traced_http(client: &RacewayClient) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RacewayMiddleware::new(client))
        .build()
}

async fn all_events(collector: &FakeCollector, clients: &[&RacewayClient]) -> Vec<Value> {
    for client in clients {
        client.flush().await;
    }
    let events = collector.events();
    for event in &events {
        assert_valid_event(event);
    }
    events
}

#[tokio::test]
async fn layer_joins_the_incoming_trace_and_answers_with_its_clock() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "orders");
    let app = Router::new()
        .route(
            "/orders/{id}",
            get(
                |Path(id): Path<u32>, Extension(raceway): Extension<RacewayClient>| async move {
                    raceway.track_state_read(
                        &format!("orders/{id}"),
                        StateAccess::value(&3).version(1),
                    );
                    raceway.track_state_write(&format!("orders/{id}"), StateAccess::value(&2));
                    "ok"
                },
            ),
        )
        .layer(RacewayLayer::new(client.clone()));
    let url = serve(app).await;
    let response = reqwest::Client::new()
        .get(format!("{url}/orders/42?x=1"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("X-Raceway-VC", r#"{"web#0a1b2c3d":5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-raceway-trace-id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let answered = decode_clock(response.headers()["x-raceway-vc"].to_str().unwrap()).unwrap();
    assert_eq!(answered.clock.get("web#0a1b2c3d"), 5);

    let events = all_events(&collector, &[&client]).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "request_received",
            "state_read",
            "state_write",
            "response_sent"
        ]
    );
    let received = &events[0];
    assert_eq!(received["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(received["parent_span_id"], "00f067aa0ba902b7");
    assert_eq!(received["data"]["route"], "/orders/{id}");
    assert_eq!(received["data"]["path"], "/orders/42");
    assert_eq!(received["data"]["incoming"]["status"], "accepted");
    let sent = &events[3];
    assert_eq!(sent["data"]["status"], 200);
    assert_eq!(sent["data"]["route"], "/orders/{id}");
    // The response header is the response_sent clock (spec 2.6).
    assert_eq!(clock_of(sent), answered.clock);
    let component = received["component"].as_str().unwrap();
    assert_eq!(answered.clock.get(component), 4);
}

#[tokio::test]
async fn layer_records_malformed_context_and_ignored_paths() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "orders");
    let app = Router::new()
        .route("/x", get(|| async { "x" }))
        .route("/healthz", get(|| async { "ok" }))
        .layer(RacewayLayer::new(&client));
    let url = serve(app).await;
    let http = reqwest::Client::new();
    let health = http.get(format!("{url}/healthz")).send().await.unwrap();
    assert!(health.headers().get("x-raceway-trace-id").is_none());
    let response = http
        .get(format!("{url}/x"))
        .header("X-Raceway-Trace-Id", "not-a-trace")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "malformed input never fails the request"
    );
    let events = all_events(&collector, &[&client]).await;
    assert_eq!(events.len(), 2, "one request traced, the health check not");
    assert_eq!(events[0]["data"]["incoming"]["status"], "rejected");
    assert_eq!(
        events[0]["data"]["incoming"]["reasons"][0],
        "trace_id_invalid"
    );
    assert_eq!(events[0]["parent_span_id"], Value::Null);
}

#[tokio::test]
async fn service_errors_and_panics_are_recorded() {
    use tower::ServiceExt;
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "orders");

    let failing = tower::ServiceBuilder::new()
        .layer(RacewayLayer::new(&client))
        .service_fn(|_request: http::Request<()>| async {
            Err::<http::Response<()>, _>(std::io::Error::other("database is down"))
        });
    let error = failing.oneshot(http::Request::new(())).await.unwrap_err();
    assert_eq!(error.to_string(), "database is down");

    let app = Router::new()
        .route(
            "/boom",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("handler bug");
                }
                "unreachable"
            }),
        )
        .layer(RacewayLayer::new(&client));
    let url = serve(app).await;
    let answer = reqwest::Client::new()
        .get(format!("{url}/boom"))
        .send()
        .await;
    assert!(
        answer.is_err(),
        "the panic still unwinds: the connection is closed"
    );

    let events = all_events(&collector, &[&client]).await;
    let errors = of_kind(&events, "error");
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["data"]["message"], "database is down");
    assert_eq!(errors[1]["data"]["type"], "panic");
    assert_eq!(errors[1]["data"]["message"], "handler bug");
    let sent = of_kind(&events, "response_sent");
    assert!(sent
        .iter()
        .all(|e| e["data"]["status"] == 500 && e["data"]["error"].is_object()));
}

#[tokio::test]
async fn reqwest_middleware_links_spans_and_merges_the_callee_clock() {
    let collector = FakeCollector::start().await;
    let stock = client_for(&collector.url, "stock");
    let stock_app = Router::new()
        .route(
            "/reserve",
            get(|Extension(raceway): Extension<RacewayClient>| async move {
                raceway.track_state_write("stock/1", StateAccess::value(&9));
                "reserved"
            }),
        )
        .layer(RacewayLayer::new(&stock));
    let stock_url = serve(stock_app).await;

    let shop = client_for(&collector.url, "shop");
    let http = Arc::new(traced_http(&shop));
    let shop_app = Router::new()
        .route(
            "/buy",
            get(move |Extension(raceway): Extension<RacewayClient>| {
                let http = Arc::clone(&http);
                let stock_url = stock_url.clone();
                async move {
                    let answer = http
                        .get(format!("{stock_url}/reserve?token=secret"))
                        .send()
                        .await
                        .unwrap();
                    let body = answer.text().await.unwrap();
                    raceway.track_state_read("stock/1", StateAccess::value(&body));
                    body
                }
            }),
        )
        .layer(RacewayLayer::new(&shop));
    let shop_url = serve(shop_app).await;
    let body = reqwest::get(format!("{shop_url}/buy"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "reserved");

    let events = all_events(&collector, &[&shop, &stock]).await;
    let trace_id = &events[0]["trace_id"];
    assert!(
        events.iter().all(|e| e["trace_id"] == *trace_id),
        "one trace"
    );
    let by = |service: &str, kind: &str| -> Value {
        events
            .iter()
            .find(|e| e["service"] == service && e["kind"] == kind)
            .cloned()
            .unwrap_or_else(|| panic!("no {kind} from {service}"))
    };
    let request_sent = by("shop", "request_sent");
    let callee = by("stock", "request_received");
    let response_received = by("shop", "response_received");
    assert_eq!(
        request_sent["data"]["url"],
        format!("{}/reserve", by_url(&request_sent))
    );
    assert!(!request_sent["data"]["url"]
        .as_str()
        .unwrap()
        .contains("secret"));
    assert_eq!(
        callee["parent_span_id"], request_sent["span_id"],
        "the callee's parent is the call span"
    );
    assert_eq!(
        request_sent["parent_span_id"],
        by("shop", "request_received")["span_id"]
    );
    assert_eq!(response_received["data"]["remote_clock"], true);
    assert_eq!(response_received["data"]["status"], 200);
    // Happens-before: send -> callee's events -> response_received -> the caller's next read.
    let write = by("stock", "state_write");
    let read = by("shop", "state_read");
    assert_eq!(
        clock_of(&request_sent).compare(&clock_of(&callee)),
        ClockOrder::Before
    );
    assert_eq!(
        clock_of(&write).compare(&clock_of(&response_received)),
        ClockOrder::Before
    );
    assert_eq!(
        clock_of(&write).compare(&clock_of(&read)),
        ClockOrder::Before
    );
}

fn by_url(event: &Value) -> String {
    let url = event["data"]["url"].as_str().unwrap();
    url.trim_end_matches("/reserve").to_owned()
}

#[tokio::test]
async fn allow_list_keeps_headers_from_other_hosts_but_records_the_call() {
    let collector = FakeCollector::start().await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen_by_peer = Arc::clone(&seen);
    let peer = Router::new().route(
        "/",
        get(move |headers: http::HeaderMap| {
            let seen = Arc::clone(&seen_by_peer);
            async move {
                seen.lock()
                    .unwrap()
                    .extend(headers.keys().map(|k| k.to_string()));
                "peer"
            }
        }),
    );
    let peer_url = serve(peer).await;
    let client = RacewayClient::builder()
        .service_name("shop")
        .server_url(&collector.url)
        .propagate_to(PropagateTo::parse_list("api.partner.example").unwrap())
        .flush_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let http = traced_http(&client);
    let context = client.start_context(&Default::default()).unwrap();
    context
        .scope(async { http.get(&peer_url).send().await.unwrap() })
        .await;
    let headers = seen.lock().unwrap().clone();
    assert!(
        !headers
            .iter()
            .any(|h| h.starts_with("x-raceway") || h == "traceparent"),
        "{headers:?}"
    );
    let events = all_events(&collector, &[&client]).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["request_sent", "response_received"]);
    assert_eq!(events[1]["data"]["remote_clock"], false);
}

#[tokio::test]
async fn request_sent_says_when_headers_were_withheld() {
    let peer_url = serve(Router::new().route("/", get(|| async { "peer" }))).await;
    for (allow, withheld) in [("api.partner.example", true), ("127.0.0.1", false)] {
        let collector = FakeCollector::start().await;
        let client = RacewayClient::builder()
            .service_name("shop")
            .server_url(&collector.url)
            .propagate_to(PropagateTo::parse_list(allow).unwrap())
            .flush_interval(Duration::from_secs(60))
            .build()
            .unwrap();
        let http = traced_http(&client);
        let context = client.start_context(&Default::default()).unwrap();
        context
            .scope(async { http.get(&peer_url).send().await.unwrap() })
            .await;
        let events = all_events(&collector, &[&client]).await;
        let sent = of_kind(&events, "request_sent");
        assert_eq!(sent.len(), 1, "{allow}");
        let data = sent[0]["data"].as_object().unwrap();
        if withheld {
            assert_eq!(data["headers_withheld"], true, "{allow}");
        } else {
            assert!(!data.contains_key("headers_withheld"), "{allow}: {data:?}");
        }
    }
}

#[tokio::test]
async fn calls_outside_a_context_pass_through_untouched() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "shop");
    let peer_url = serve(Router::new().route(
        "/",
        get(|headers: http::HeaderMap| async move { headers.len().to_string() }),
    ))
    .await;
    let http = traced_http(&client);
    let before = reqwest::get(&peer_url).await.unwrap().text().await.unwrap();
    let through = http
        .get(&peer_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(before, through);
    assert!(all_events(&collector, &[&client]).await.is_empty());
}

#[tokio::test]
async fn concurrent_requests_get_concurrent_clocks() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "stock");
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let app = Router::new()
        .route(
            "/take",
            get(move |Extension(raceway): Extension<RacewayClient>| {
                let barrier = Arc::clone(&barrier);
                async move {
                    raceway.track_state_read("stock/1", StateAccess::value(&5));
                    // Both requests are in flight at once before either writes.
                    barrier.wait().await;
                    raceway.track_state_write("stock/1", StateAccess::value(&4));
                    "ok"
                }
            }),
        )
        .layer(RacewayLayer::new(&client));
    let url = serve(app).await;
    let http = reqwest::Client::new();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let call = || {
        http.get(format!("{url}/take"))
            .header("X-Raceway-Trace-Id", trace)
            .send()
    };
    let (a, b) = tokio::join!(call(), call());
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
    let events = all_events(&collector, &[&client]).await;
    let writes = of_kind(&events, "state_write");
    assert_eq!(writes.len(), 2);
    assert_ne!(
        writes[0]["component"], writes[1]["component"],
        "one component per request"
    );
    assert_eq!(
        clock_of(writes[0]).compare(&clock_of(writes[1])),
        ClockOrder::Concurrent
    );
}

#[tokio::test]
async fn forked_branches_are_concurrent_and_joined() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "stock");
    let context = client.start_context(&Default::default()).unwrap();
    let write = |value: i32| {
        let client = client.clone();
        async move { client.track_state_write("stock/1", StateAccess::value(&value)) }
    };
    context
        .scope(async {
            tokio::join!(
                raceway_client::forked(write(1)),
                raceway_client::forked(write(2))
            );
            // A spawned task runs outside any context unless forked.
            tokio::spawn(write(3)).await.unwrap();
            raceway_client::spawn(write(4)).await.unwrap();
            client.track_state_read("stock/1", StateAccess::none());
        })
        .await;
    let events = all_events(&collector, &[&client]).await;
    let writes = of_kind(&events, "state_write");
    assert_eq!(
        writes.len(),
        3,
        "the task spawned without a fork records nothing"
    );
    assert_eq!(
        clock_of(writes[0]).compare(&clock_of(writes[1])),
        ClockOrder::Concurrent
    );
    let read = of_kind(&events, "state_read")[0];
    for write in &writes {
        assert_eq!(
            clock_of(write).compare(&clock_of(read)),
            ClockOrder::Before,
            "joined before the read"
        );
    }
    assert_eq!(of_kind(&events, "fork").len(), 3);
    assert_eq!(of_kind(&events, "join").len(), 3);
}

#[tokio::test]
async fn get_trace_headers_is_a_client_call_of_its_own() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "shop");
    let context = client.start_context(&Default::default()).unwrap();
    let trace_id = context.trace_id().to_owned();
    let (first, second) = context
        .scope(async {
            let headers = client.get_trace_headers().await;
            let again = client
                .get_trace_headers_for("POST", "http://billing:8080/charge?card=1")
                .await;
            // The response of the first call comes back with the callee's clock.
            let mut answer = http::HeaderMap::new();
            answer.insert("x-raceway-trace-id", headers["x-raceway-trace-id"].clone());
            answer.insert("x-raceway-vc", r#"{"billing#00000001":4}"#.parse().unwrap());
            assert!(
                client.merge_response_headers(&answer),
                "the oldest open call, clock merged"
            );
            let end = raceway_client::ManualCallEnd {
                status: Some(503),
                request: Some(&again),
                ..Default::default()
            };
            assert!(!client.end_manual_call(&http::HeaderMap::new(), end));
            (headers, again)
        })
        .await;
    for headers in [&first, &second] {
        assert_eq!(headers["x-raceway-trace-id"], trace_id.as_str());
        assert!(headers.contains_key("x-raceway-vc"));
    }
    assert_ne!(
        first["traceparent"], second["traceparent"],
        "a new span id per call"
    );
    assert!(
        client.get_trace_headers().await.is_empty(),
        "nothing outside a context"
    );
    let events = all_events(&collector, &[&client]).await;
    let sent = of_kind(&events, "request_sent");
    assert_eq!(sent.len(), 2);
    let span = sent[0]["span_id"].as_str().unwrap();
    assert!(first["traceparent"].to_str().unwrap().contains(span));
    assert_eq!(sent[0]["data"]["url"], "unknown");
    assert_eq!(sent[0]["data"]["method"], "GET");
    assert_eq!(sent[1]["data"]["url"], "http://billing:8080/charge");
    assert_eq!(sent[1]["data"]["method"], "POST");
    let received = of_kind(&events, "response_received");
    assert_eq!(received.len(), 2);
    assert_eq!(received[0]["span_id"], sent[0]["span_id"]);
    assert_eq!(received[0]["data"]["remote_clock"], true);
    assert_eq!(received[0]["clock"]["billing#00000001"], 4);
    assert_eq!(received[1]["span_id"], sent[1]["span_id"]);
    assert_eq!(received[1]["data"]["status"], 503);
}

#[tokio::test]
async fn with_lock_and_custom_events() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "shop");
    let context = client.start_context(&Default::default()).unwrap();
    let value = context
        .scope(async {
            let stock = tokio::sync::Mutex::new(8);
            let out = client
                .with_lock("inventory", &stock, |stock| {
                    *stock -= 1;
                    *stock
                })
                .await;
            client.record_custom("cache_miss", serde_json::json!({ "key": "k" }));
            client.record_error(&std::io::Error::other("oops"));
            out
        })
        .await;
    assert_eq!(value, 7);
    let events = all_events(&collector, &[&client]).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["lock_acquire", "lock_release", "custom", "error"]);
    assert_eq!(events[0]["data"]["lock"], "inventory");
    assert_eq!(events[2]["data"]["attributes"]["key"], "k");
    assert_eq!(events[3]["data"]["type"], "Error");
}

#[tokio::test]
async fn unsampled_requests_record_nothing_but_propagate() {
    let collector = FakeCollector::start().await;
    let client = RacewayClient::builder()
        .service_name("shop")
        .server_url(&collector.url)
        .sample_rate(0.0)
        .build()
        .unwrap();
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(RacewayLayer::new(&client));
    let url = serve(app).await;
    let response = reqwest::get(&url).await.unwrap();
    assert!(response.headers().contains_key("x-raceway-trace-id"));
    assert!(!response.headers().contains_key("x-raceway-vc"));
    assert!(all_events(&collector, &[&client]).await.is_empty());
}

/// Ten concurrent read-modify-writes that await between the read and the write, each under
/// `client.lock`: none is lost (the lock is real), and each records its accesses between its
/// `lock_acquire` and `lock_release`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_under_the_lock_lose_nothing() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "counter");
    let counter = std::sync::Arc::new(tokio::sync::Mutex::new(0_i64));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (client, counter) = (client.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let context = client.start_context(&Default::default()).unwrap();
            context
                .scope(async {
                    let mut held = client.lock("counter", &counter).await;
                    let seen = *held;
                    client.track_state_read("counter", raceway_client::StateAccess::value(&seen));
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    *held = seen + 1;
                    client.track_state_write(
                        "counter",
                        raceway_client::StateAccess::value(&(seen + 1)),
                    );
                })
                .await;
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*counter.lock().await, 10, "no increment lost");
    let events = all_events(&collector, &[&client]).await;
    let mut by_trace: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for event in &events {
        by_trace
            .entry(event["trace_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(event["kind"].as_str().unwrap().to_owned());
    }
    assert_eq!(by_trace.len(), 10);
    for kinds in by_trace.values() {
        assert_eq!(
            kinds,
            &["lock_acquire", "state_read", "state_write", "lock_release"]
        );
    }
}
