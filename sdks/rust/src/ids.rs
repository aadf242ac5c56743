//! Identifiers of spec 1 and component names of spec 3.1.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

const MAX_SERVICE_PART: usize = 55;

fn push_hex(out: &mut String, value: u64, digits: usize) {
    // `{:0width$x}` pads to the width; the value is masked to fit it.
    let _ = write!(out, "{value:0digits$x}");
}

/// A new random trace id: 32 lowercase hex digits, never all zero (spec 1).
///
/// ```
/// let id = raceway_client::ids::new_trace_id();
/// assert!(raceway_client::ids::is_valid_trace_id(&id));
/// ```
pub fn new_trace_id() -> String {
    let (high, low) = loop {
        let (high, low) = (fastrand::u64(..), fastrand::u64(..));
        if high | low != 0 {
            break (high, low);
        }
    };
    let mut out = String::with_capacity(32);
    push_hex(&mut out, high, 16);
    push_hex(&mut out, low, 16);
    out
}

/// A new random span id: 16 lowercase hex digits, never all zero (spec 1).
pub fn new_span_id() -> String {
    let value = fastrand::u64(1..);
    let mut out = String::with_capacity(16);
    push_hex(&mut out, value, 16);
    out
}

// Event ids need only be unique (spec 1, note a): a random per-process prefix and a counter,
// which costs no random draw per event.
static EVENT_ID_PREFIX: OnceLock<u64> = OnceLock::new();
static EVENT_ID_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new event id: a random 64-bit prefix per process followed by a 64-bit counter.
pub fn new_event_id() -> String {
    let prefix = *EVENT_ID_PREFIX.get_or_init(|| fastrand::u64(1..));
    let counter = EVENT_ID_COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    let mut out = String::with_capacity(32);
    push_hex(&mut out, prefix, 16);
    push_hex(&mut out, counter, 16);
    out
}

/// The service part of a component (spec 3.1): every character outside `[A-Za-z0-9._-]`
/// becomes `_`, cut to 55 characters.
///
/// ```
/// assert_eq!(raceway_client::ids::sanitize_service_name("checkout api"), "checkout_api");
/// ```
pub fn sanitize_service_name(service: &str) -> String {
    service
        .chars()
        .take(MAX_SERVICE_PART)
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-') {
                ch
            } else {
                '_'
            }
        })
        .collect()
}

/// A new component for one execution context: `<service part>#<8 lowercase hex>`.
pub(crate) fn new_component(service_part: &str) -> String {
    let mut out = String::with_capacity(service_part.len() + 9);
    out.push_str(service_part);
    out.push('#');
    push_hex(&mut out, u64::from(fastrand::u32(..)), 8);
    out
}

fn is_lower_hex(value: &str, len: usize) -> bool {
    value.len() == len
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && value.bytes().any(|b| b != b'0')
}

/// True for a trace id in canonical form: 32 lowercase hex digits, not all zero.
pub fn is_valid_trace_id(value: &str) -> bool {
    is_lower_hex(value, 32)
}

/// True for a span id in canonical form: 16 lowercase hex digits, not all zero.
pub fn is_valid_span_id(value: &str) -> bool {
    is_lower_hex(value, 16)
}

/// Normalises a received trace id (spec 1): 32 hex digits in any case, or the dashed UUID form,
/// become 32 lowercase hex digits; anything else, and the all-zero id, gives `None`.
///
/// ```
/// use raceway_client::ids::normalize_trace_id;
/// assert_eq!(
///     normalize_trace_id("4BF92F35-77B3-4DA6-A3CE-929D0E0E4736").as_deref(),
///     Some("4bf92f3577b34da6a3ce929d0e0e4736"),
/// );
/// assert_eq!(normalize_trace_id("nope"), None);
/// ```
pub fn normalize_trace_id(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let hex: String = match bytes.len() {
        32 if bytes.iter().all(u8::is_ascii_hexdigit) => input.to_ascii_lowercase(),
        36 if is_dashed_uuid(bytes) => input.replace('-', "").to_ascii_lowercase(),
        _ => return None,
    };
    is_valid_trace_id(&hex).then_some(hex)
}

fn is_dashed_uuid(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => *b == b'-',
        _ => b.is_ascii_hexdigit(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = new_trace_id();
        assert!(is_valid_trace_id(&a));
        assert_ne!(a, new_trace_id());
        assert!(is_valid_span_id(&new_span_id()));
        let (e1, e2) = (new_event_id(), new_event_id());
        assert!(is_valid_trace_id(&e1));
        assert_ne!(e1, e2);
    }

    #[test]
    fn components_follow_the_spec_form() {
        let part = sanitize_service_name("my service/ü");
        assert_eq!(part, "my_service__");
        let component = new_component(&part);
        assert_eq!(component.len(), part.len() + 9);
        assert!(component.starts_with("my_service__#"));
        assert_eq!(sanitize_service_name(&"x".repeat(80)).len(), 55);
    }

    #[test]
    fn normalizes_trace_ids() {
        assert_eq!(normalize_trace_id(&"0".repeat(32)), None);
        assert_eq!(normalize_trace_id("4bf92f3577b34da6a3ce929d0e0e473"), None);
        assert!(normalize_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736").is_some());
    }
}
