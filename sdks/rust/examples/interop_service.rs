//! The Rust service that the cross-language tests (packages/interop-tests/src/rust) start as a
//! real process. It reports to the collector named by RACEWAY_URL as RACEWAY_SERVICE_NAME,
//! listens on 127.0.0.1 (an ephemeral port) and prints one JSON line,
//! `{"url": "http://127.0.0.1:<port>"}`, once it accepts connections.
//!
//! Routes:
//!
//! - `GET /chain?next=<url>`: writes `visit:<service>`, calls `next` (when given) through the
//!   reqwest middleware, then reads `visit:<service>`.
//! - `GET /reserve?value=<n>&barrier=<url>`: a read-modify-write of `stock:1` that waits at
//!   `barrier` (an untraced GET) between the read and the write: a lost update when two
//!   services run it at once.
//! - `POST /flush`: flushes the client (the tests flush before they query).
//!
//! - `GET /increment`: a read-modify-write of `counter` under `client.lock` (a real mutex):
//!   concurrent calls lose nothing.
//!
//! It stops on SIGTERM or SIGINT as the README shows (`with_graceful_shutdown`, then
//! `shutdown()`), which sends what the last requests recorded. `INTEROP_FLUSH_INTERVAL_MS` sets
//! the flush interval (a test of that shutdown sets it high).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use raceway_client::middleware::RacewayLayer;
use raceway_client::reqwest_middleware::RacewayMiddleware;
use raceway_client::{ExecutionContext, RacewayClient, StateAccess};
use serde_json::{json, Value};

#[derive(Clone)]
struct App {
    client: RacewayClient,
    traced: reqwest_middleware::ClientWithMiddleware,
    untraced: reqwest::Client,
    counter: Arc<tokio::sync::Mutex<i64>>,
}

async fn fetch_json(response: Result<reqwest::Response, String>) -> Result<Value, String> {
    let response = response?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status} {text}"));
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn bad_gateway(error: String) -> Response {
    (StatusCode::BAD_GATEWAY, error).into_response()
}

async fn chain(
    State(app): State<App>,
    Extension(context): Extension<ExecutionContext>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let resource = format!("visit:{}", app.client.config().service_name);
    app.client
        .track_state_write(&resource, StateAccess::value(&1));
    let mut downstream = Value::Null;
    if let Some(next) = query.get("next") {
        let response = app.traced.get(next).send().await.map_err(|e| e.to_string());
        match fetch_json(response).await {
            Ok(body) => downstream = body,
            Err(error) => return bad_gateway(error),
        }
    }
    app.client
        .track_state_read(&resource, StateAccess::value(&1));
    Json(json!({
        "service": app.client.config().service_name,
        "traceId": context.trace_id(),
        "downstream": downstream,
    }))
    .into_response()
}

async fn reserve(State(app): State<App>, Query(query): Query<HashMap<String, String>>) -> Response {
    let Some(value) = query.get("value").and_then(|v| v.parse::<i64>().ok()) else {
        return (StatusCode::BAD_REQUEST, "value must be an integer").into_response();
    };
    app.client
        .track_state_read("stock:1", StateAccess::value(&value));
    if let Some(barrier) = query.get("barrier") {
        // The barrier stands in for the time a database round trip takes; it is not a traced
        // call of the service.
        let response = app
            .untraced
            .get(barrier)
            .send()
            .await
            .map_err(|e| e.to_string());
        if let Err(error) = fetch_json(response).await {
            return bad_gateway(error);
        }
    }
    app.client
        .track_state_write("stock:1", StateAccess::value(&(value - 1)));
    Json(json!({ "left": value - 1 })).into_response()
}

async fn increment(State(app): State<App>) -> Json<Value> {
    let mut counter = app.client.lock("counter", &app.counter).await;
    let seen = *counter;
    app.client
        .track_state_read("counter", StateAccess::value(&seen));
    // Without the lock, other requests read `seen` meanwhile.
    tokio::time::sleep(Duration::from_millis(5)).await;
    *counter = seen + 1;
    app.client
        .track_state_write("counter", StateAccess::value(&(seen + 1)));
    Json(json!({ "value": seen + 1 }))
}

async fn flush(State(app): State<App>) -> Json<Value> {
    app.client.flush().await;
    let stats = app.client.stats();
    Json(json!({ "delivered": stats.delivered, "dropped": stats.dropped }))
}

async fn stopped() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main]
async fn main() {
    let client = RacewayClient::builder()
        .flush_interval(Duration::from_millis(
            std::env::var("INTEROP_FLUSH_INTERVAL_MS")
                .ok()
                .and_then(|ms| ms.parse().ok())
                .unwrap_or(50),
        ))
        // The tests' own flush requests are not part of any scenario.
        .ignore_paths(vec!["/flush".to_owned()])
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest");
    let app = App {
        client: client.clone(),
        traced: reqwest_middleware::ClientBuilder::new(http.clone())
            .with(RacewayMiddleware::new(&client))
            .build(),
        untraced: http,
        counter: Arc::default(),
    };
    let router = Router::new()
        .route("/chain", get(chain))
        .route("/reserve", get(reserve))
        .route("/increment", get(increment))
        .route("/flush", post(flush))
        .with_state(app)
        .layer(RacewayLayer::new(&client));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    println!("{}", json!({ "url": url }));
    axum::serve(listener, router)
        .with_graceful_shutdown(stopped())
        .await
        .expect("serve");
    client.shutdown_with_timeout(Duration::from_secs(5)).await;
}
