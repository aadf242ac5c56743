//! The order and inventory services of the SQL races example, in Rust (`SERVICE=order` or
//! `inventory`, or the first argument): axum traced by Raceway's tower layer, the products
//! table through sqlx on PostgreSQL or SQLite (`DATABASE`: a postgres:// URL or
//! `sqlite:<file>`). The statements are the docs' read-modify-write and its usual fixes
//! (`stock.rs`); nothing in them tells Raceway anything: the pool is wrapped once (`db.rs`).

mod db;
mod stock;

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use raceway_client::middleware::RacewayLayer;
use raceway_client::RacewayClient;
use serde::Deserialize;
use serde_json::json;

use crate::db::Db;
use crate::stock::Column;

#[derive(Clone)]
struct App {
    service: &'static str,
    db: Db,
}

#[derive(Deserialize)]
struct ModeQuery {
    mode: Option<String>,
}

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("sql-races-rust: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let service = match std::env::args()
        .nth(1)
        .or_else(|| std::env::var("SERVICE").ok())
        .as_deref()
    {
        Some("order") => "order",
        Some("inventory") => "inventory",
        other => return Err(format!("SERVICE must be order or inventory, got {other:?}")),
    };
    let raceway = RacewayClient::builder()
        .service_name(service)
        .build()
        .map_err(|e| e.to_string())?;
    let database = std::env::var("DATABASE").unwrap_or_else(|_| "sqlite:shop.db".into());
    let db = Db::open(&database).await.map_err(|e| e.to_string())?;
    let app = App { service, db };

    let route = if service == "order" {
        "/orders/{id}"
    } else {
        "/stock/{id}/reserve"
    };
    let router = Router::new()
        .route("/", get(|| async { Json(json!({ "status": "ok" })) }))
        .route(route, post(take_one))
        .with_state(app.clone())
        .layer(RacewayLayer::new(&raceway));

    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(if service == "order" { 3001 } else { 3002 });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on {port}: {e}"))?;
    axum::serve(listener, router)
        .with_graceful_shutdown(stop_signal())
        .await
        .map_err(|e| e.to_string())?;
    // Every queued event is sent before the process exits.
    raceway.shutdown_with_timeout(Duration::from_secs(5)).await;
    app.db.close().await;
    Ok(())
}

async fn take_one(
    State(app): State<App>,
    Path(id): Path<i32>,
    Query(query): Query<ModeQuery>,
) -> Response {
    let mode = query
        .mode
        .or_else(|| std::env::var("MODE").ok())
        .unwrap_or_else(|| "naive".into());
    let column = if app.service == "order" {
        Column::Stock
    } else {
        Column::Reserved
    };
    match stock::take_one(&app.db, &mode, id, column).await {
        Ok(retries) => Json(json!({ "service": app.service, "mode": mode, "retries": retries }))
            .into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": error.to_string() })),
        )
            .into_response(),
    }
}

async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
