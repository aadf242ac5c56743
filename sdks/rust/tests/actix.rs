//! The actix-web middleware over a real actix server on loopback.
#![cfg(feature = "actix-web")]

mod common;

use actix_web::{web, App, HttpResponse, HttpServer};
use common::collector::{client_for, of_kind, FakeCollector};
use common::schema::assert_valid_event;
use raceway_client::actix::RacewayActix;
use raceway_client::clock::decode_clock;
use raceway_client::{RacewayClient, StateAccess};
use serde_json::Value;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// Serves an app wrapped in the middleware on 127.0.0.1:0, one worker; its routes:
/// `/orders/{id}` (a state read, 201), `/refuse` (a handler error, 409), `/explode` (a panic).
fn serve(client: &RacewayClient) -> String {
    let client = client.clone();
    let server = HttpServer::new(move || {
        let handler_client = client.clone();
        App::new()
            .wrap(RacewayActix::new(&client))
            .route(
                "/orders/{id}",
                web::get().to(move |id: web::Path<String>| {
                    let client = handler_client.clone();
                    async move {
                        client.track_state_read(&format!("order:{id}"), StateAccess::value(&2));
                        HttpResponse::Created().body("ok")
                    }
                }),
            )
            .route(
                "/refuse",
                web::get().to(|| async {
                    Err::<HttpResponse, _>(actix_web::error::ErrorConflict("stock is gone"))
                }),
            )
            .route(
                "/explode",
                web::get().to(|| async {
                    if true {
                        panic!("boom");
                    }
                    HttpResponse::Ok().finish()
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}", server.addrs()[0]);
    actix_web::rt::spawn(server.run());
    url
}

async fn events(collector: &FakeCollector, client: &RacewayClient) -> Vec<Value> {
    client.flush().await;
    let events = collector.events();
    for event in &events {
        assert_valid_event(event);
    }
    events
}

fn one<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(events, kind);
    assert_eq!(found.len(), 1, "{kind} in {events:#?}");
    found[0]
}

fn in_trace(events: &[Value], trace: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["trace_id"] == trace)
        .cloned()
        .collect()
}

/// Runs a test on actix's runtime (actix-web's `test` macro needs its `macros` feature).
fn on_actix<F: std::future::Future>(test: F) -> F::Output {
    actix_web::rt::System::new().block_on(test)
}

#[test]
fn joins_the_incoming_trace_and_answers_with_the_route_and_its_clock() {
    on_actix(joins_the_incoming_trace());
}

async fn joins_the_incoming_trace() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "orders");
    let url = serve(&client);

    let response = reqwest::Client::new()
        .get(format!("{url}/orders/42"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("x-raceway-vc", r#"{"caller#00000001":3}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-raceway-trace-id"], CALLER_TRACE);
    let vc = decode_clock(response.headers()["x-raceway-vc"].to_str().unwrap()).unwrap();
    assert_eq!(vc.clock.get("caller#00000001"), 3, "{:?}", vc.clock);

    let events = events(&collector, &client).await;
    let received = one(&events, "request_received");
    let read = one(&events, "state_read");
    let sent = one(&events, "response_sent");
    assert_eq!(received["trace_id"], CALLER_TRACE);
    assert_eq!(received["parent_span_id"], CALLER_SPAN);
    assert_eq!(received["data"]["path"], "/orders/42");
    assert_eq!(received["data"]["route"], "/orders/{id}");
    assert_eq!(
        read["trace_id"], CALLER_TRACE,
        "the handler ran in the context"
    );
    assert_eq!(read["data"]["resource"], "order:42");
    assert_eq!(sent["data"]["route"], "/orders/{id}");
    assert_eq!(sent["data"]["status"], 201);
    // The response carries response_sent's clock, after the handler's read.
    let own = sent["component"].as_str().unwrap();
    assert_eq!(sent["clock"][own], read["clock"][own].as_u64().unwrap() + 1);
    assert_eq!(sent["clock"][own].as_u64().unwrap(), vc.clock.get(own));
    client.shutdown().await;
}

#[test]
fn handler_errors_panics_and_unknown_routes_are_recorded() {
    on_actix(errors_panics_and_unknown_routes());
}

async fn errors_panics_and_unknown_routes() {
    let collector = FakeCollector::start().await;
    let client = client_for(&collector.url, "orders");
    let url = serve(&client);
    let http = reqwest::Client::new();

    let refused = http.get(format!("{url}/refuse")).send().await.unwrap();
    assert_eq!(refused.status(), 409);
    let refused_trace = refused.headers()["x-raceway-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(refused.headers().contains_key("x-raceway-vc"));
    let missing = http.get(format!("{url}/missing")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let missing_trace = missing.headers()["x-raceway-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();
    // actix answers nothing for a panicking handler: the connection is dropped.
    assert!(http.get(format!("{url}/explode")).send().await.is_err());

    let events = events(&collector, &client).await;
    let refused = in_trace(&events, &refused_trace);
    let error = one(&refused, "error");
    let sent = one(&refused, "response_sent");
    assert_eq!(error["data"]["message"], "stock is gone");
    assert_eq!(sent["data"]["status"], 409);
    assert_eq!(sent["data"]["route"], "/refuse");
    assert_eq!(sent["data"]["error"]["message"], "stock is gone");

    let missing = in_trace(&events, &missing_trace);
    let sent = one(&missing, "response_sent");
    assert_eq!(sent["data"]["status"], 404);
    assert_eq!(sent["data"]["route"], Value::Null);

    let panicked: Vec<Value> = of_kind(&events, "error")
        .into_iter()
        .filter(|e| e["data"]["message"] == "boom")
        .cloned()
        .collect();
    assert_eq!(panicked.len(), 1, "{events:#?}");
    let trace = panicked[0]["trace_id"].as_str().unwrap();
    let sent = in_trace(&events, trace);
    let sent = one(&sent, "response_sent");
    assert_eq!(sent["data"]["status"], 500);
    assert_eq!(sent["data"]["error"]["message"], "boom");
    client.shutdown().await;
}
