//! The polyglot shop's orders, in Rust: axum, traced by Raceway's tower layer, taking the items
//! out of the stock row it shares with the Python inventory service (one SQLite file, opened
//! with rusqlite through Raceway's wrapper, which reports each statement) and charging through
//! payment with reqwest.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use raceway_client::db::rusqlite::Connection;
use raceway_client::middleware::RacewayLayer;
use raceway_client::reqwest_middleware::RacewayMiddleware;
use raceway_client::RacewayClient;
use rusqlite::OptionalExtension;
use serde::Deserialize;
use serde_json::{json, Value};

const SERVICE: &str = "order";

struct Shop {
    stock: Mutex<Connection>,
    payment_url: String,
    http: reqwest_middleware::ClientWithMiddleware,
}

#[derive(Deserialize)]
struct OrderRequest {
    sku: Option<String>,
    quantity: Option<i64>,
}

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("{SERVICE}: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    // The shop's product codes are no secret: raw parameter values go with their digests, so
    // that races name the product (`products[sku="mug"].stock`).
    let mut builder = RacewayClient::builder()
        .service_name(SERVICE)
        .capture_values(true);
    if let Some(ms) = env_number("SHOP_FLUSH_INTERVAL_MS") {
        builder = builder.flush_interval(Duration::from_millis(ms));
    }
    let raceway = builder.build().map_err(|error| error.to_string())?;

    let shop = Arc::new(Shop {
        stock: Mutex::new(open_stock(&env_or("SHOP_DB", ".raceway/shop.db"))?),
        payment_url: env_or("PAYMENT_URL", "http://127.0.0.1:3004"),
        http: reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(RacewayMiddleware::new(&raceway))
            .build(),
    });

    let app = Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/orders", post(place_order))
        .with_state(shop)
        .layer(RacewayLayer::new(&raceway));

    let host = env_or("HOST", "127.0.0.1");
    let port = env_number("PORT").unwrap_or(3003);
    let listener = tokio::net::TcpListener::bind((host.as_str(), port as u16))
        .await
        .map_err(|error| format!("cannot listen on {host}:{port}: {error}"))?;
    let bound: SocketAddr = listener.local_addr().map_err(|error| error.to_string())?;
    println!("{SERVICE} listening on http://{host}:{}", bound.port());

    axum::serve(listener, app)
        .with_graceful_shutdown(stop_signal())
        .await
        .map_err(|error| error.to_string())?;
    // Raceway installs no signal handler: flushing before exit is the application's job.
    raceway.shutdown_with_timeout(Duration::from_secs(5)).await;
    println!("{SERVICE} stopped");
    Ok(())
}

/// Read the row, do a little work, write the new value back: the read-modify-write that loses
/// a decrement when inventory does the same to the same row at the same time. Nothing here
/// tells Raceway anything: it reads the row from the two statements rusqlite runs.
async fn place_order(State(shop): State<Arc<Shop>>, Json(order): Json<OrderRequest>) -> Response {
    let sku = order.sku.unwrap_or_default();
    let quantity = order.quantity.unwrap_or(1);

    let product = match read_product(&shop, &sku) {
        Ok(Some(product)) => product,
        Ok(None) => return answer(StatusCode::NOT_FOUND, json!({ "error": "unknown_product" })),
        Err(error) => return failure(error),
    };
    let (price_cents, stock) = product;
    if stock < quantity {
        let message = format!("only {stock} left of {sku}");
        return answer(
            StatusCode::CONFLICT,
            json!({ "error": "out_of_stock", "message": message }),
        );
    }
    work(10).await;
    let left = stock - quantity;
    if let Err(error) = write_stock(&shop, &sku, left) {
        return failure(error);
    }

    let charge = shop
        .http
        .post(format!("{}/charges", shop.payment_url))
        .json(&json!({ "amountCents": price_cents * quantity }))
        .send()
        .await;
    let charge: Value = match charge {
        Ok(response) if response.status().is_success() => match response.json().await {
            Ok(body) => body,
            Err(error) => return failure(error.to_string()),
        },
        Ok(response) => return failure(format!("payment answered {}", response.status())),
        Err(error) => return failure(error.to_string()),
    };
    answer(
        StatusCode::CREATED,
        json!({ "id": order_id(), "sku": sku, "quantity": quantity, "stockLeft": left, "charge": charge }),
    )
}

fn open_stock(path: &str) -> Result<Connection, String> {
    let open = || -> rusqlite::Result<Connection> {
        // Wrapped once here: every statement is reported to Raceway.
        let connection = Connection::open(path)?;
        // Two processes write this file at once: WAL, and wait for the other's lock.
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        Ok(connection)
    };
    open().map_err(|error| format!("cannot open the stock database {path}: {error}"))
}

fn read_product(shop: &Shop, sku: &str) -> Result<Option<(i64, i64)>, String> {
    let connection = shop.stock.lock().map_err(|error| error.to_string())?;
    connection
        .query_row(
            "SELECT price_cents, stock FROM products WHERE sku = ?1",
            [sku],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(|error| error.to_string())
}

fn write_stock(shop: &Shop, sku: &str, stock: i64) -> Result<(), String> {
    let connection = shop.stock.lock().map_err(|error| error.to_string())?;
    connection
        .execute(
            "UPDATE products SET stock = ?1 WHERE sku = ?2",
            rusqlite::params![stock, sku],
        )
        .map(|_| ())
        .map_err(|error| error.to_string())
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

fn failure(message: String) -> Response {
    answer(
        StatusCode::BAD_GATEWAY,
        json!({ "error": "order_failed", "message": message }),
    )
}

/// About `ms` milliseconds (plus or minus 20 %): the work a real service would do.
async fn work(ms: u64) {
    let jitter = 0.8 + fastrand::f64() * 0.4;
    tokio::time::sleep(Duration::from_secs_f64(ms as f64 * jitter / 1000.0)).await;
}

fn order_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

fn env_or(name: &str, fallback: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fallback.to_owned())
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
}

async fn stop_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
