use crate::ids::{is_valid_span_id, is_valid_trace_id};

const TRACEPARENT_LENGTH: usize = 55;

/// A parsed W3C `traceparent` (spec 2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traceparent {
    pub version: u8,
    pub trace_id: String,
    /// The span id of the caller's span.
    pub parent_id: String,
    pub flags: u8,
}

fn lower_hex_byte(text: &str) -> Option<u8> {
    let valid = text.len() == 2
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if valid {
        u8::from_str_radix(text, 16).ok()
    } else {
        None
    }
}

/// Parses a trimmed `traceparent` value per W3C Trace Context level 1 (spec 2.2); `None` for
/// anything invalid.
///
/// ```
/// let tp = raceway_client::propagation::parse_traceparent(
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
/// )
/// .unwrap();
/// assert_eq!(tp.parent_id, "00f067aa0ba902b7");
/// ```
pub fn parse_traceparent(value: &str) -> Option<Traceparent> {
    if value.len() < TRACEPARENT_LENGTH || !value.is_char_boundary(TRACEPARENT_LENGTH) {
        return None;
    }
    let head = &value[..TRACEPARENT_LENGTH];
    let version = lower_hex_byte(head.get(0..2)?)?;
    if version == 0xff || (version == 0 && value.len() != TRACEPARENT_LENGTH) {
        return None;
    }
    if value.len() > TRACEPARENT_LENGTH && value.as_bytes()[TRACEPARENT_LENGTH] != b'-' {
        return None;
    }
    let bytes = head.as_bytes();
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let trace_id = head.get(3..35)?;
    let parent_id = head.get(36..52)?;
    let flags = lower_hex_byte(head.get(53..55)?)?;
    if !is_valid_trace_id(trace_id) || !is_valid_span_id(parent_id) {
        return None;
    }
    Some(Traceparent {
        version,
        trace_id: trace_id.to_owned(),
        parent_id: parent_id.to_owned(),
        flags,
    })
}

/// The `traceparent` Raceway emits: version 00 with the given flags.
pub fn format_traceparent(trace_id: &str, span_id: &str, flags: u8) -> String {
    format!("00-{trace_id}-{span_id}-{flags:02x}")
}
