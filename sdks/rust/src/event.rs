//! The event sent to the collector (spec 4, `schemas/event.schema.json`), written as JSON text
//! when it is recorded: the transport queues text, never objects.

use std::fmt::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// What an event records (spec 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    RequestReceived,
    ResponseSent,
    RequestSent,
    ResponseReceived,
    StateRead,
    StateWrite,
    LockAcquire,
    LockRelease,
    DbQuery,
    Error,
    Fork,
    Join,
    Custom,
}

impl EventKind {
    /// The kind's name on the wire.
    pub fn as_str(self) -> &'static str {
        use EventKind::*;
        match self {
            RequestReceived => "request_received",
            ResponseSent => "response_sent",
            RequestSent => "request_sent",
            ResponseReceived => "response_received",
            StateRead => "state_read",
            StateWrite => "state_write",
            LockAcquire => "lock_acquire",
            LockRelease => "lock_release",
            DbQuery => "db_query",
            Error => "error",
            Fork => "fork",
            Join => "join",
            Custom => "custom",
        }
    }
}

/// The fields of one event, borrowed from the context that records it.
pub(crate) struct EventFields<'a> {
    pub trace_id: &'a str,
    pub span_id: &'a str,
    pub parent_span_id: Option<&'a str>,
    pub service: &'a str,
    pub instance: &'a str,
    pub component: &'a str,
    pub kind: EventKind,
    /// The clock snapshot in canonical form, at most 64 entries.
    pub clock_json: &'a str,
    pub clock_dropped: u64,
    pub data: &'a Value,
}

/// Wall-clock time in microseconds since the Unix epoch.
pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn push_json_string(out: &mut String, text: &str) {
    // serde_json escapes exactly as JSON requires; writing into a String cannot fail.
    out.push_str(&Value::from(text).to_string());
}

/// The event as the JSON text the batch carries.
pub(crate) fn encode_event(event: &EventFields<'_>, id: &str, ts_us: u64) -> String {
    let mut out = String::with_capacity(320 + event.clock_json.len());
    let _ = write!(
        out,
        "{{\"id\":\"{id}\",\"trace_id\":\"{}\",\"span_id\":\"{}\",\"parent_span_id\":",
        event.trace_id, event.span_id
    );
    match event.parent_span_id {
        Some(parent) => {
            let _ = write!(out, "\"{parent}\"");
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"service\":");
    push_json_string(&mut out, event.service);
    out.push_str(",\"instance\":");
    push_json_string(&mut out, event.instance);
    let _ = write!(
        out,
        ",\"component\":\"{}\",\"ts_us\":{ts_us},\"kind\":\"{}\",\"clock\":{}",
        event.component,
        event.kind.as_str(),
        event.clock_json
    );
    if event.clock_dropped > 0 {
        let _ = write!(out, ",\"clock_dropped\":{}", event.clock_dropped);
    }
    out.push_str(",\"data\":");
    out.push_str(&event.data.to_string());
    out.push('}');
    out
}

/// Most bytes of JSON text a recorded value keeps (the schema's "1 KiB of text").
pub(crate) const MAX_VALUE_BYTES: usize = 1024;
const TRUNCATION_MARK: &str = "…";

/// The `value` an event records: the value itself when its JSON text fits in 1 KiB, otherwise a
/// string of the first bytes of that text (on a character boundary) followed by `…`.
pub(crate) fn event_value(value: Value) -> Value {
    let text = value.to_string();
    if text.len() <= MAX_VALUE_BYTES {
        return value;
    }
    let mut end = MAX_VALUE_BYTES - TRUNCATION_MARK.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Value::String(format!("{}{TRUNCATION_MARK}", &text[..end]))
}

/// Milliseconds since `started`, to the microsecond (`duration_ms` of the response events).
pub(crate) fn duration_ms(started: Instant) -> f64 {
    (started.elapsed().as_micros() as f64) / 1000.0
}

/// `text` cut to at most `max` characters, so it fits a schema `maxLength`.
pub(crate) fn clamp(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

/// An HTTP method as the schema accepts it (`[A-Z][A-Z0-9_-]{0,31}`), else `OTHER`.
pub(crate) fn event_method(method: &str) -> String {
    let upper = method.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= 32
        && bytes[0].is_ascii_uppercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if valid {
        upper
    } else {
        "OTHER".to_owned()
    }
}

/// An error as events carry it: type, message and the chain of causes, cut to the schema's
/// limits.
pub(crate) fn error_data(type_name: &str, error: &(dyn std::error::Error + 'static)) -> Value {
    let mut data = serde_json::Map::new();
    data.insert("type".into(), clamp(short_type_name(type_name), 256).into());
    data.insert("message".into(), clamp(&error.to_string(), 4096).into());
    let mut chain = String::new();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = writeln!(chain, "caused by: {cause}");
        source = cause.source();
    }
    if !chain.is_empty() {
        data.insert("stack".into(), clamp(chain.trim_end(), 16384).into());
    }
    Value::Object(data)
}

/// A message-only error (a service error that is only `Display`, a panic payload).
pub(crate) fn error_message_data(type_name: &str, message: &str) -> Value {
    serde_json::json!({
        "type": clamp(type_name, 256),
        "message": clamp(message, 4096),
    })
}

/// `my_crate::db::Error` becomes `Error`, as other SDKs record a class name; generics are kept.
fn short_type_name(name: &str) -> &str {
    let base = name.split('<').next().unwrap_or(name);
    let start = base.rfind("::").map_or(0, |i| i + 2);
    &name[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_values_are_cut_to_one_kib() {
        let cut = event_value(Value::String("é".repeat(2000)));
        let text = cut.as_str().unwrap();
        assert!(text.len() <= MAX_VALUE_BYTES);
        assert!(text.ends_with('…'));
        assert_eq!(event_value(Value::from(3)), Value::from(3));
    }

    #[test]
    fn methods_and_type_names() {
        assert_eq!(event_method("get"), "GET");
        assert_eq!(event_method("WEIRD METHOD"), "OTHER");
        assert_eq!(short_type_name("std::io::Error"), "Error");
        assert_eq!(short_type_name("a::B<c::D>"), "B<c::D>");
    }
}
