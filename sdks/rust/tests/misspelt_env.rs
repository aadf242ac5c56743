//! A misspelt variable is named when the client is built (spec 7, Unknown variables). A test
//! binary of its own, with one test: it sets a variable of the process.

use raceway_client::RacewayClient;
use std::sync::{Arc, Mutex};

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

#[test]
fn a_misspelt_url_variable_is_named_when_the_client_is_built() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    std::env::set_var("RACEWAY_SERVER_URL", "http://collector:9000");
    let built = RacewayClient::builder()
        .service_name("s")
        .disabled(true)
        .build();
    std::env::remove_var("RACEWAY_SERVER_URL");
    built.unwrap();
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        text.contains(" WARN ")
            && text.contains(
                "raceway: RACEWAY_SERVER_URL is set but not read (did you mean RACEWAY_URL?)"
            ),
        "{text}"
    );
}
