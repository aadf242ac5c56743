//! HTTPS to the collector (the `rustls` feature, on by default): an `https` server URL is
//! accepted, the transport speaks TLS to it, and a certificate it does not trust is a clear,
//! logged failure (target `raceway`), never a silent drop.
#![cfg(feature = "rustls")]

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderMap;
use raceway_client::propagation::extract;
use raceway_client::{RacewayClient, StateAccess};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A TLS server on loopback with a self-signed certificate for `127.0.0.1`: it runs the
/// handshake of each connection on a thread and keeps how it ended.
struct SelfSignedServer {
    url: String,
    handshakes: Arc<Mutex<Vec<String>>>,
}

impl SelfSignedServer {
    fn start() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .expect("a self-signed certificate");
        let key =
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&handshakes);
        // Bounded: a few connections at most, then the thread ends.
        std::thread::spawn(move || {
            for stream in listener.incoming().take(8) {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut connection = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
                let mut outcome = "handshake completed".to_owned();
                while connection.is_handshaking() {
                    if let Err(error) = connection.complete_io(&mut stream) {
                        outcome = format!("handshake failed: {error}");
                        break;
                    }
                }
                seen.lock().unwrap().push(outcome);
            }
        });
        SelfSignedServer { url, handshakes }
    }

    /// The handshakes seen, once there is one (the server thread notes it after the client
    /// has given up), or none after 5 seconds.
    async fn handshakes(&self) -> Vec<String> {
        for _ in 0..500 {
            let seen = self.handshakes.lock().unwrap().clone();
            if !seen.is_empty() {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Vec::new()
    }
}

/// A `tracing` subscriber that writes what it gets to a buffer.
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
}

#[test]
fn an_https_server_url_is_accepted() {
    let client = RacewayClient::builder()
        .service_name("checkout")
        .server_url("https://collector.example:8443/raceway/")
        .build()
        .expect("https is supported with the rustls feature");
    assert_eq!(
        client.config().endpoint.as_str(),
        "https://collector.example:8443/raceway/v1/events"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_logged_tls_failure() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    // The test's runtime runs on this thread, and so does the transport's task.
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = SelfSignedServer::start();
    let client = RacewayClient::builder()
        .service_name("checkout")
        .server_url(server.url.as_str())
        .max_retries(0)
        .flush_interval(Duration::from_millis(10))
        .build()
        .unwrap();
    let context = client.start_context(&extract(&HeaderMap::new())).unwrap();
    context
        .scope(async { client.track_state_write("stock/1", StateAccess::none()) })
        .await;
    tokio::time::timeout(Duration::from_secs(30), client.flush())
        .await
        .expect("the batch leaves the transport");

    let stats = client.stats();
    assert_eq!(
        (stats.delivered, stats.dropped),
        (0, 1),
        "no retries: the batch is dropped and counted"
    );
    let logs = logs.text();
    let failing = logs
        .lines()
        .find(|line| line.contains("cannot deliver events to"))
        .unwrap_or_else(|| panic!("no warning of the failure in:\n{logs}"));
    assert!(failing.contains("WARN"), "{failing}");
    assert!(failing.contains("raceway"), "the target: {failing}");
    assert!(
        failing.contains("certificate") && failing.contains("UnknownIssuer"),
        "the warning names the TLS error: {failing}"
    );
    assert!(
        logs.lines().any(|line| line.contains("WARN")
            && line.contains("event(s) for")
            && line.contains("dropped")),
        "{logs}"
    );
    // The client did speak TLS, and refused the certificate.
    let handshakes = server.handshakes().await;
    assert!(
        handshakes
            .first()
            .is_some_and(|h| h.contains("handshake failed") && h.contains("alert")),
        "{handshakes:?}"
    );
}
