use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use tokio::sync::oneshot;

/// Decides the status of one batch (its decoded JSON).
type Rule = Arc<dyn Fn(&Value) -> u16 + Send + Sync>;

#[derive(Default)]
struct Shared {
    batches: Mutex<Vec<Value>>,
    status: AtomicU16,
    rule: Mutex<Option<Rule>>,
    /// Every request: the ids of its events and the status it was answered with.
    attempts: Mutex<Vec<(Vec<String>, u16)>>,
    requests: AtomicUsize,
}

/// The server task and what stops it gracefully.
struct Server {
    task: tokio::task::JoinHandle<()>,
    stop: oneshot::Sender<()>,
}

/// A collector on loopback that keeps every batch it accepts and answers what the test says.
pub struct FakeCollector {
    pub url: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Mutex<Option<Server>>,
}

async fn ingest(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    shared.requests.fetch_add(1, Ordering::SeqCst);
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
    let rule = shared.rule.lock().unwrap().clone();
    let status = match rule {
        Some(rule) => rule(&batch),
        None => shared.status.load(Ordering::SeqCst),
    };
    let ids = batch["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|event| event["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    shared.attempts.lock().unwrap().push((ids, status));
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if status.is_success() {
        shared.batches.lock().unwrap().push(batch);
    }
    status
}

fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) -> Server {
    let app = Router::new()
        .route("/v1/events", post(ingest))
        .with_state(shared);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Server { task, stop }
}

impl FakeCollector {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            status: AtomicU16::new(200),
            ..Shared::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = serve(listener, Arc::clone(&shared));
        FakeCollector {
            url: format!("http://{addr}"),
            addr,
            shared,
            server: Mutex::new(Some(server)),
        }
    }

    /// The status every later request is answered with.
    pub fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Answers every later batch with what `rule` says of it.
    pub fn answer_by(&self, rule: impl Fn(&Value) -> u16 + Send + Sync + 'static) {
        *self.shared.rule.lock().unwrap() = Some(Arc::new(rule));
    }

    /// Stops the server as a collector that goes down does: the requests in progress are
    /// answered, then the port refuses connections.
    pub async fn stop(&self) {
        let server = self.server.lock().unwrap().take();
        if let Some(Server { task, stop }) = server {
            let _ = stop.send(());
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the collector stops")
                .expect("the server task");
        }
    }

    /// Starts the server again on the same port.
    pub async fn restart(&self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        let server = serve(listener, Arc::clone(&self.shared));
        *self.server.lock().unwrap() = Some(server);
    }

    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// How many requests were answered with `status`.
    pub fn answered(&self, status: u16) -> usize {
        let attempts = self.shared.attempts.lock().unwrap();
        attempts.iter().filter(|(_, s)| *s == status).count()
    }

    /// Every request so far: the ids of its events and its answer.
    pub fn attempts(&self) -> Vec<(Vec<String>, u16)> {
        self.shared.attempts.lock().unwrap().clone()
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
        if let Some(server) = self.server.lock().unwrap().take() {
            server.task.abort();
        }
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
