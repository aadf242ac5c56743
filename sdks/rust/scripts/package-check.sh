#!/usr/bin/env bash
# The README's install from a checkout, as a user does it: a fresh project outside the
# repository depends on this directory by path, serves one request through RacewayLayer to a
# stand-in collector, shuts down as the README shows, and the request's events must have
# arrived. Offline, with this crate's Cargo.lock (every crate is already in Cargo's cache) and
# its target directory (nothing is built twice). Run by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
SDK="$PWD"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src"
cp Cargo.lock "$WORK/Cargo.lock"
cat > "$WORK/Cargo.toml" <<TOML
[package]
name = "fresh"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
raceway-client = { path = "$SDK" }
axum = { version = "0.8", default-features = false, features = ["tokio", "http1", "matched-path"] }
flate2 = "1"
reqwest = { version = "0.12", default-features = false }
tokio = { version = "1", features = ["rt-multi-thread", "macros", "net", "sync"] }

[workspace]
TOML
cat > "$WORK/src/main.rs" <<'RS'
use std::io::Read as _;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::routing::{get, post};
use axum::{Extension, Router};
use raceway_client::middleware::RacewayLayer;
use raceway_client::{RacewayClient, StateAccess};

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

#[tokio::main]
async fn main() {
    let received = Arc::new(Mutex::new(String::new()));
    let sink = received.clone();
    let collector = serve(Router::new().route(
        "/v1/events",
        post(move |body: Bytes| async move {
            let mut text = String::new();
            flate2::read::MultiGzDecoder::new(&body[..]).read_to_string(&mut text).unwrap();
            sink.lock().unwrap().push_str(&text);
            r#"{"accepted":0,"duplicates":0}"#
        }),
    ))
    .await;
    let client = RacewayClient::builder().service_name("fresh").server_url(collector.as_str()).build().unwrap();
    let app = Router::new()
        .route(
            "/items/{id}",
            get(|Extension(client): Extension<RacewayClient>| async move {
                client.track_state_read("item:7", StateAccess::value(&1));
                "ok"
            }),
        )
        .layer(RacewayLayer::new(&client));
    let service = serve(app).await;
    let answer = reqwest::get(format!("{service}/items/7")).await.unwrap();
    let trace_id = answer.headers()["x-raceway-trace-id"].to_str().unwrap().to_owned();
    client.shutdown().await;
    let got = received.lock().unwrap().clone();
    for want in [trace_id.as_str(), "\"request_received\"", "\"state_read\"", "\"route\":\"/items/{id}\""] {
        assert!(got.contains(want), "the collector did not get {want}: {got}");
    }
    println!("rust SDK from a path dependency: trace {trace_id} delivered");
}
RS
cd "$WORK"
CARGO_TARGET_DIR="$SDK/target" cargo run --quiet --offline
