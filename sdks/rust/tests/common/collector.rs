use std::io::Read as _;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

#[derive(Default)]
struct Shared {
    batches: Mutex<Vec<Value>>,
    status: AtomicU16,
    requests: AtomicUsize,
}

/// A collector on loopback that keeps every batch it accepts and answers what the test says.
pub struct FakeCollector {
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

async fn ingest(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let status =
        StatusCode::from_u16(shared.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK);
    if !status.is_success() {
        return status;
    }
    assert_eq!(headers["content-type"], "application/json");
    let mut text = String::new();
    if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
        flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .expect("gzip");
    } else {
        text = String::from_utf8(body.to_vec()).expect("utf-8");
    }
    let batch: Value = serde_json::from_str(&text).expect("batch JSON");
    shared.batches.lock().unwrap().push(batch);
    StatusCode::OK
}

impl FakeCollector {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            status: AtomicU16::new(200),
            ..Shared::default()
        });
        let app = Router::new()
            .route("/v1/events", post(ingest))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeCollector {
            url,
            shared,
            server,
        }
    }

    /// The status every later request is answered with.
    pub fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    pub fn batches(&self) -> Vec<Value> {
        self.shared.batches.lock().unwrap().clone()
    }

    /// Every event received, in arrival order.
    pub fn events(&self) -> Vec<Value> {
        self.batches()
            .iter()
            .flat_map(|batch| batch["events"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

impl Drop for FakeCollector {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A client for tests: the given collector, a long flush interval (tests flush explicitly).
pub fn client_for(url: &str, service: &str) -> raceway_client::RacewayClient {
    raceway_client::RacewayClient::builder()
        .service_name(service)
        .server_url(url)
        .instance(format!("{service}-test"))
        .flush_interval(std::time::Duration::from_secs(60))
        .build()
        .expect("client")
}

/// The events of one kind.
pub fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["kind"] == kind).collect()
}
