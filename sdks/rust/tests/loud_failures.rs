//! A misconfigured client says so without debug mode (spec 4.2 Warnings), through `tracing`
//! (target `raceway`): a collector that cannot be reached, a wrong API key, the layer added
//! before the routes. The misspelt variable is `tests/misspelt_env.rs`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::collector::FakeCollector;
use http::HeaderMap;
use raceway_client::propagation::extract;
use raceway_client::{RacewayClient, StateAccess};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Waits until the log holds `want`: a failed delivery is asynchronous.
    async fn wait_for(&self, want: &str) -> String {
        for _ in 0..2000 {
            let text = self.text();
            if text.contains(want) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no {want:?} in the log:\n{}", self.text());
    }
}

/// A subscriber for this thread (the tests' runtime and the transport's task run on it), at
/// the default level a user would set: warnings, not debug.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

async fn record_one(client: &RacewayClient) {
    let context = client.start_context(&extract(&HeaderMap::new())).unwrap();
    context
        .scope(async { client.track_state_write("stock/1", StateAccess::none()) })
        .await;
}

fn client(url: &str) -> raceway_client::ClientBuilder {
    RacewayClient::builder()
        .service_name("loud")
        .server_url(url)
        .flush_interval(Duration::from_millis(10))
}

#[tokio::test]
async fn an_unreachable_collector_is_a_warning_at_the_first_attempt() {
    let (logs, _guard) = capture();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let client = client(&url).build().unwrap();
    record_one(&client).await;
    let text = logs
        .wait_for(&format!(
            "raceway: cannot deliver events to {url}/v1/events (collector unreachable"
        ))
        .await;
    assert!(text.contains(" WARN "), "{text}");
    assert!(text.contains("RACEWAY_URL"), "says what to check: {text}");
    client
        .shutdown_with_timeout(Duration::from_millis(100))
        .await;
}

#[tokio::test]
async fn a_wrong_api_key_is_a_warning_naming_the_variable() {
    let (logs, _guard) = capture();
    let collector = FakeCollector::start().await;
    collector.answer(401);
    let client = client(&collector.url).api_key("wrong").build().unwrap();
    record_one(&client).await;
    let text = logs
        .wait_for(&format!(
            "1 event(s) for {}/v1/events dropped: batch refused by the collector (401)",
            collector.url
        ))
        .await;
    assert!(text.contains("check RACEWAY_API_KEY"), "{text}");
}

#[tokio::test]
async fn a_healthy_collector_gets_no_warning() {
    let (logs, _guard) = capture();
    let collector = FakeCollector::start().await;
    collector.answer(200);
    let client = client(&collector.url).build().unwrap();
    record_one(&client).await;
    client.flush().await;
    assert_eq!(client.stats().delivered, 1);
    assert_eq!(logs.text(), "");
}

/// The docs' order, `Router::new().layer(...).route(...)`: the layer wraps no route, so the
/// handler's calls find no context, and the client says why at the first one.
#[tokio::test]
async fn a_layer_added_before_the_routes_is_named() {
    use axum::routing::get;
    use axum::{Extension, Router};
    use raceway_client::middleware::RacewayLayer;

    let (logs, _guard) = capture();
    let collector = FakeCollector::start().await;
    let client = client(&collector.url).build().unwrap();
    let app = Router::new()
        .layer(RacewayLayer::new(&client))
        .route(
            "/reserve",
            get(|Extension(client): Extension<RacewayClient>| async move {
                client.track_state_read("stock/1", StateAccess::none());
                "ok"
            }),
        )
        .layer(Extension(client.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/reserve", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let answer = reqwest::get(&url).await.unwrap();
    assert!(
        answer.headers().get("x-raceway-trace-id").is_none(),
        "untraced"
    );
    let text = logs
        .wait_for("Router::layer wraps only the routes added before it")
        .await;
    assert_eq!(
        text.matches("Router::layer wraps only").count(),
        1,
        "once: {text}"
    );
}

/// The README's order traces, and says nothing about it.
#[tokio::test]
async fn a_layer_added_after_the_routes_is_quiet() {
    use axum::routing::get;
    use axum::{Extension, Router};
    use raceway_client::middleware::RacewayLayer;

    let (logs, _guard) = capture();
    let collector = FakeCollector::start().await;
    let client = client(&collector.url).build().unwrap();
    let app = Router::new()
        .route(
            "/reserve",
            get(|Extension(client): Extension<RacewayClient>| async move {
                client.track_state_read("stock/1", StateAccess::none());
                "ok"
            }),
        )
        .layer(RacewayLayer::new(&client));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/reserve", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let answer = reqwest::get(&url).await.unwrap();
    assert!(answer.headers().get("x-raceway-trace-id").is_some());
    client.flush().await;
    assert_eq!(logs.text(), "");
}
