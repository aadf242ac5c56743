use std::borrow::Cow;

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The Raceway trace id header, as emitted.
pub const HEADER_TRACE_ID: &str = "X-Raceway-Trace-Id";
/// The Raceway vector clock header, as emitted.
pub const HEADER_VC: &str = "X-Raceway-VC";
/// The W3C Trace Context parent header.
pub const HEADER_TRACEPARENT: &str = "traceparent";
/// The W3C Trace Context vendor state header.
pub const HEADER_TRACESTATE: &str = "tracestate";

/// Headers extraction reads from: every copy of a header, matched case-insensitively.
pub trait HeaderSource {
    /// Every copy of the header `name` (given in lowercase), in the order received.
    fn header_values(&self, name: &str) -> Vec<Cow<'_, str>>;
}

impl HeaderSource for HeaderMap {
    fn header_values(&self, name: &str) -> Vec<Cow<'_, str>> {
        // Bytes that are not UTF-8 become U+FFFD, which no valid value contains: the header is
        // then invalid, never a panic.
        self.get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()))
            .collect()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderSource for [(K, V)] {
    fn header_values(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.iter()
            .filter(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, value)| Cow::Borrowed(value.as_ref()))
            .collect()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderSource for Vec<(K, V)> {
    fn header_values(&self, name: &str) -> Vec<Cow<'_, str>> {
        self.as_slice().header_values(name)
    }
}

/// Headers injection writes to. `set` replaces every existing copy of the header, whatever the
/// case of its name, and never appends (spec 2.5).
pub trait HeaderSink {
    /// Replaces the header `name` (as the spec writes it) with `value`.
    fn set_header(&mut self, name: &'static str, value: &str);
}

impl HeaderSink for HeaderMap {
    fn set_header(&mut self, name: &'static str, value: &str) {
        // The values injected are ASCII the spec has validated; one that is not a valid header
        // value is skipped rather than sent broken.
        if let Ok(value) = HeaderValue::from_str(value) {
            self.insert(HeaderName::from_static(lowercase_name(name)), value);
        }
    }
}

impl HeaderSink for Vec<(String, String)> {
    fn set_header(&mut self, name: &'static str, value: &str) {
        self.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
        self.push((name.to_owned(), value.to_owned()));
    }
}

fn lowercase_name(name: &'static str) -> &'static str {
    match name {
        HEADER_TRACE_ID => "x-raceway-trace-id",
        HEADER_VC => "x-raceway-vc",
        HEADER_TRACEPARENT => "traceparent",
        HEADER_TRACESTATE => "tracestate",
        other => other,
    }
}

/// Trims optional whitespace (space and horizontal tab only, spec 2.1) at both ends.
pub(crate) fn trim_ows(value: &str) -> &str {
    value.trim_matches([' ', '\t'])
}

/// The copies of a header, trimmed, empty ones left out (spec 2.1). With `split_commas`, a
/// comma-separated value counts as several copies (a proxy joined them).
pub(crate) fn header_copies<'a>(values: &'a [Cow<'a, str>], split_commas: bool) -> Vec<&'a str> {
    let mut copies = Vec::new();
    for value in values {
        if split_commas {
            copies.extend(value.split(',').map(trim_ows).filter(|c| !c.is_empty()));
        } else {
            let trimmed = trim_ows(value);
            if !trimmed.is_empty() {
                copies.push(trimmed);
            }
        }
    }
    copies
}

/// One header reduced to one value: absent, conflicting copies, or the value.
pub(crate) enum SingleHeader<'a> {
    Absent,
    Conflict,
    Value(&'a str),
}

/// A header is accepted only when every copy is identical after trimming (spec 2.1).
pub(crate) fn single_header<'a>(copies: &[&'a str]) -> SingleHeader<'a> {
    match copies.split_first() {
        None => SingleHeader::Absent,
        Some((first, rest)) if rest.iter().all(|c| c == first) => SingleHeader::Value(first),
        Some(_) => SingleHeader::Conflict,
    }
}
