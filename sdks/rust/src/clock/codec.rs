use std::fmt::Write as _;

use super::vector_clock::{VectorClock, MAX_COUNTER};

/// Most entries a clock carries on the wire (spec 3.4); the `~dropped` marker is not counted.
pub const MAX_CLOCK_ENTRIES: usize = 64;
/// Longest `X-Raceway-VC` value a decoder reads, in bytes (spec 3.3).
pub const MAX_CLOCK_HEADER_BYTES: usize = 8192;
/// Reserved key that tells how many entries a truncated clock left out (spec 3.4).
pub const DROPPED_KEY: &str = "~dropped";
const MAX_KEY_LENGTH: usize = 64;

/// A clock's canonical entries cut to 64 (spec 3.4), without the `~dropped` marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedEntries {
    /// Compact JSON object, keys in byte order, at most 64 entries.
    pub json: String,
    /// Entries the wire form lacks: those already missing plus those cut now.
    pub dropped: u64,
}

/// The canonical entries of a clock (spec 3.3), cut as spec 3.4 says when it has more than 64
/// entries: `own` is kept, then the highest counters (ties: the smaller key). Events carry this
/// text as their clock, with the count in `clock_dropped`.
pub fn encode_clock_entries(
    clock: &VectorClock,
    own: Option<&str>,
    dropped: u64,
) -> EncodedEntries {
    let mut dropped = dropped.min(MAX_COUNTER);
    let mut json = String::with_capacity(2 + clock.len() * 24);
    json.push('{');
    let write = |json: &mut String, key: &str, value: u64| {
        if json.len() > 1 {
            json.push(',');
        }
        let _ = write!(json, "\"{key}\":{value}");
    };
    if clock.len() > MAX_CLOCK_ENTRIES {
        dropped = (dropped + (clock.len() - MAX_CLOCK_ENTRIES) as u64).min(MAX_COUNTER);
        let mut ranked: Vec<(&str, u64)> = clock.iter().collect();
        ranked.sort_by(|a, b| {
            let own_a = Some(a.0) == own;
            let own_b = Some(b.0) == own;
            own_b.cmp(&own_a).then(b.1.cmp(&a.1)).then(a.0.cmp(b.0))
        });
        ranked.truncate(MAX_CLOCK_ENTRIES);
        ranked.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, value) in ranked {
            write(&mut json, key, value);
        }
    } else {
        for (key, value) in clock.iter() {
            write(&mut json, key, value);
        }
    }
    json.push('}');
    EncodedEntries { json, dropped }
}

/// Appends the `"~dropped":<n>` marker to canonical entries; nothing when `dropped` is 0.
pub(crate) fn with_dropped_marker(mut json: String, dropped: u64) -> String {
    if dropped == 0 {
        return json;
    }
    json.pop();
    if json.len() > 1 {
        json.push(',');
    }
    let _ = write!(json, "\"{DROPPED_KEY}\":{dropped}}}");
    json
}

/// Canonical entries with their marker, as `X-Raceway-VC` carries them.
pub(crate) fn encode_with_marker(entries: &EncodedEntries) -> String {
    with_dropped_marker(entries.json.clone(), entries.dropped)
}

/// Encodes a clock for `X-Raceway-VC` (spec 3.3, 3.4): canonical entries, cut to 64 with `own`
/// kept, and the `~dropped` marker when entries are missing.
///
/// ```
/// use raceway_client::clock::{encode_clock, VectorClock};
/// let clock: VectorClock = [("web#00000002", 1), ("api#00000001", 3)].into_iter().collect();
/// assert_eq!(encode_clock(&clock, None, 0), r#"{"api#00000001":3,"web#00000002":1}"#);
/// ```
pub fn encode_clock(clock: &VectorClock, own: Option<&str>, dropped: u64) -> String {
    let entries = encode_clock_entries(clock, own, dropped);
    with_dropped_marker(entries.json, entries.dropped)
}

/// A decoded `X-Raceway-VC`: the clock and its `~dropped` count (0 when absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedClock {
    pub clock: VectorClock,
    pub dropped: u64,
}

/// Why a clock was rejected (spec 2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockDecodeError {
    /// Not a clock of the canonical grammar (`vc_invalid`).
    Invalid,
    /// Longer than 8192 bytes or more than 64 entries (`vc_oversized`).
    Oversized,
}

impl ClockDecodeError {
    /// The rejection reason's name on the wire.
    pub fn reason(self) -> &'static str {
        match self {
            ClockDecodeError::Invalid => "vc_invalid",
            ClockDecodeError::Oversized => "vc_oversized",
        }
    }
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'#' | b'@' | b'/' | b'+' | b'-')
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), ClockDecodeError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(ClockDecodeError::Invalid)
        }
    }

    /// `[1-9][0-9]*` up to 2^53-1.
    fn counter(&mut self) -> Result<u64, ClockDecodeError> {
        match self.peek() {
            Some(b'1'..=b'9') => {}
            _ => return Err(ClockDecodeError::Invalid),
        }
        let mut value: u64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value * 10 + u64::from(digit - b'0');
            if value > MAX_COUNTER {
                return Err(ClockDecodeError::Invalid);
            }
            self.pos += 1;
        }
        Ok(value)
    }
}

/// Decodes an `X-Raceway-VC` value strictly (spec 3.3, 3.4). Never panics: anything but a valid
/// clock gives an error. The `~dropped` marker is reported as `dropped`, not as an entry.
///
/// A hand-written scanner rather than a JSON parser: JSON parsers keep one of two duplicate keys
/// and accept escapes, fractions and exponents the grammar forbids; one left-to-right pass checks
/// spec 3.3 exactly and stops at the first problem, as the spec requires.
///
/// ```
/// use raceway_client::clock::{decode_clock, ClockDecodeError};
/// let decoded = decode_clock(r#"{"api#00000001":3, "~dropped":2}"#).unwrap();
/// assert_eq!(decoded.clock.get("api#00000001"), 3);
/// assert_eq!(decoded.dropped, 2);
/// assert_eq!(decode_clock(r#"{"a":0}"#), Err(ClockDecodeError::Invalid));
/// ```
pub fn decode_clock(input: &str) -> Result<DecodedClock, ClockDecodeError> {
    if input.len() > MAX_CLOCK_HEADER_BYTES {
        return Err(ClockDecodeError::Oversized);
    }
    let mut s = Scanner {
        bytes: input.as_bytes(),
        pos: 0,
    };
    let mut clock = VectorClock::new();
    let mut dropped: Option<u64> = None;
    s.skip_whitespace();
    s.expect(b'{')?;
    s.skip_whitespace();
    if s.peek() == Some(b'}') {
        s.pos += 1;
    } else {
        loop {
            s.expect(b'"')?;
            let rest = &s.bytes[s.pos..];
            let is_marker = rest.starts_with(b"~dropped\"");
            let key = if is_marker {
                if dropped.is_some() {
                    return Err(ClockDecodeError::Invalid);
                }
                s.pos += DROPPED_KEY.len();
                None
            } else {
                if clock.len() >= MAX_CLOCK_ENTRIES {
                    return Err(ClockDecodeError::Oversized);
                }
                let start = s.pos;
                while s.peek().is_some_and(is_key_byte) {
                    s.pos += 1;
                }
                let length = s.pos - start;
                if s.peek() != Some(b'"') || length == 0 || length > MAX_KEY_LENGTH {
                    return Err(ClockDecodeError::Invalid);
                }
                Some(&input[start..s.pos])
            };
            s.expect(b'"')?;
            s.skip_whitespace();
            s.expect(b':')?;
            s.skip_whitespace();
            let value = s.counter()?;
            match key {
                None => dropped = Some(value),
                Some(key) => {
                    if clock.get(key) != 0 {
                        return Err(ClockDecodeError::Invalid);
                    }
                    clock.set(key, value);
                }
            }
            s.skip_whitespace();
            match s.peek() {
                Some(b',') => {
                    s.pos += 1;
                    s.skip_whitespace();
                }
                Some(b'}') => {
                    s.pos += 1;
                    break;
                }
                _ => return Err(ClockDecodeError::Invalid),
            }
        }
    }
    s.skip_whitespace();
    if s.pos != s.bytes.len() {
        return Err(ClockDecodeError::Invalid);
    }
    Ok(DecodedClock {
        clock,
        dropped: dropped.unwrap_or(0),
    })
}
