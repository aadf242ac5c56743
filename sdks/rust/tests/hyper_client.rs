//! The hyper client layer over real servers on loopback: hyper_util's legacy client, wrapped in
//! RacewayClientLayer, called from a traced axum handler.

mod common;

use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use common::collector::{client_for, FakeCollector};
use common::schema::assert_valid_event;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use raceway_client::clock::{ClockOrder, VectorClock};
use raceway_client::hyper_client::RacewayClientLayer;
use raceway_client::middleware::RacewayLayer;
use raceway_client::{RacewayClient, StateAccess};
use serde_json::Value;
use tower::{Service as _, ServiceBuilder, ServiceExt as _};

type Hyper = Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>;

fn hyper_client() -> Hyper {
    Client::builder(TokioExecutor::new()).build_http()
}

/// GET `url` through the layer; the body, or the client's error as text.
async fn traced_get(raceway: &RacewayClient, url: &str) -> Result<String, String> {
    let mut http = ServiceBuilder::new()
        .layer(RacewayClientLayer::new(raceway))
        .service(hyper_client());
    let request = http::Request::get(url).body(Empty::new()).unwrap();
    let http = http.ready().await.map_err(|e| e.to_string())?;
    let response = http.call(request).await.map_err(|e| e.to_string())?;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Ok(String::from_utf8(body.to_vec()).unwrap())
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
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

#[tokio::test]
async fn the_layer_links_spans_and_merges_the_callee_clock() {
    let collector = FakeCollector::start().await;
    let stock = client_for(&collector.url, "stock");
    let stock_url = serve(
        Router::new()
            .route(
                "/reserve",
                get(|Extension(raceway): Extension<RacewayClient>| async move {
                    raceway.track_state_write("stock/1", StateAccess::value(&9));
                    "reserved"
                }),
            )
            .layer(RacewayLayer::new(&stock)),
    )
    .await;
    let shop = client_for(&collector.url, "shop");
    let shop_url = serve(
        Router::new()
            .route(
                "/buy",
                get(
                    move |Extension(raceway): Extension<RacewayClient>| async move {
                        let body =
                            traced_get(&raceway, &format!("{stock_url}/reserve?token=secret"))
                                .await
                                .unwrap();
                        raceway.track_state_read("stock/1", StateAccess::value(&body));
                        let failed = traced_get(&raceway, "http://127.0.0.1:9/nobody").await;
                        assert!(failed.is_err(), "port 9 answered: {failed:?}");
                        body
                    },
                ),
            )
            .layer(RacewayLayer::new(&shop)),
    )
    .await;
    let body = reqwest::get(format!("{shop_url}/buy"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "reserved");

    shop.flush().await;
    stock.flush().await;
    let events = collector.events();
    events.iter().for_each(assert_valid_event);
    let trace_id = &events[0]["trace_id"];
    assert!(
        events.iter().all(|e| e["trace_id"] == *trace_id),
        "one trace"
    );
    let all = |service: &str, kind: &str| -> Vec<Value> {
        events
            .iter()
            .filter(|e| e["service"] == service && e["kind"] == kind)
            .cloned()
            .collect()
    };
    let by = |service: &str, kind: &str| all(service, kind)[0].clone();
    let sent = all("shop", "request_sent");
    let answered = all("shop", "response_received");
    assert_eq!((sent.len(), answered.len()), (2, 2), "{events:#?}");
    let callee = by("stock", "request_received");
    let url = sent[0]["data"]["url"].as_str().unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/reserve"),
        "{url}"
    );
    assert_eq!(
        callee["parent_span_id"], sent[0]["span_id"],
        "the callee's parent is the call span"
    );
    assert_eq!(answered[0]["span_id"], sent[0]["span_id"]);
    assert_eq!(answered[0]["data"]["status"], 200);
    assert_eq!(answered[0]["data"]["remote_clock"], true);
    // Happens-before: send -> the callee's write -> response_received -> the caller's read.
    let write = by("stock", "state_write");
    assert_eq!(
        clock_of(&sent[0]).compare(&clock_of(&callee)),
        ClockOrder::Before
    );
    assert_eq!(
        clock_of(&write).compare(&clock_of(&answered[0])),
        ClockOrder::Before
    );
    assert_eq!(
        clock_of(&write).compare(&clock_of(&by("shop", "state_read"))),
        ClockOrder::Before
    );
    // A call that got no answer: its error, no status, no clock.
    assert_eq!(sent[1]["data"]["url"], "http://127.0.0.1:9/nobody");
    assert!(
        answered[1]["data"]["error"]["message"].is_string(),
        "{:?}",
        answered[1]
    );
    assert_eq!(answered[1]["data"]["status"], Value::Null);
    assert_eq!(answered[1]["data"]["remote_clock"], false);
}

#[tokio::test]
async fn calls_outside_a_context_pass_through_untouched() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "shop");
    let peer_url = serve(Router::new().route(
        "/",
        get(|headers: http::HeaderMap| async move {
            let traced =
                headers.contains_key("traceparent") || headers.contains_key("x-raceway-vc");
            traced.to_string()
        }),
    ))
    .await;
    assert_eq!(
        traced_get(&client, &format!("{peer_url}/")).await.unwrap(),
        "false"
    );
    tokio::time::timeout(Duration::from_secs(30), client.flush())
        .await
        .unwrap();
    assert!(collector.events().is_empty());
}
