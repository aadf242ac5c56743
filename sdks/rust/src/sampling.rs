//! Head sampling (spec 8): a pure function of the trace id that every SDK computes identically,
//! and the parent-based decision that carries it in `traceparent`'s flags.

/// `traceparent` flag: the trace is sampled (recorded).
pub const FLAG_SAMPLED: u8 = 0x01;
/// `traceparent` flag (W3C level 2): the trace id's low 56 bits are random.
pub const FLAG_RANDOM: u8 = 0x02;

/// The flags Raceway propagates; other bits are zeroed on input and never sent.
pub const PROPAGATED_FLAGS: u8 = FLAG_SAMPLED | FLAG_RANDOM;

const TWO_POW_56: f64 = 72_057_594_037_927_936.0;

/// The sampling threshold T = floor((1 - rate) * 2^56), computed in IEEE-754 doubles as the
/// spec says (so every SDK gets the same T for the same rate).
pub fn threshold(rate: f64) -> u64 {
    ((1.0 - rate) * TWO_POW_56).floor() as u64
}

/// R: the trace id's last 14 hex digits as an unsigned integer; `None` for a malformed id.
fn randomness(trace_id: &str) -> Option<u64> {
    let tail = trace_id.get(trace_id.len().checked_sub(14)?..)?;
    u64::from_str_radix(tail, 16).ok()
}

/// The root decision: a trace is sampled when R >= T.
///
/// ```
/// use raceway_client::sampling::is_sampled_root;
/// assert!(is_sampled_root("4bf92f3577b34da6a380000000000000", 0.5));
/// assert!(!is_sampled_root("4bf92f3577b34da6a37fffffffffffff", 0.5));
/// ```
pub fn is_sampled_root(trace_id: &str, rate: f64) -> bool {
    randomness(trace_id).is_some_and(|r| r >= threshold(rate))
}

/// The flags of a new context (spec 8): the flags of a joined `traceparent` are kept as
/// received (the upstream decision is never overridden); a trace started here is random and
/// decided here; a trace joined through `X-Raceway-Trace-Id` alone is decided here, without the
/// random flag (its id was not drawn here).
pub fn decide_flags(trace_id: &str, rate: f64, joined: bool, received: Option<u8>) -> u8 {
    if let Some(flags) = received {
        return flags;
    }
    let sampled = if is_sampled_root(trace_id, rate) {
        FLAG_SAMPLED
    } else {
        0
    };
    if joined {
        sampled
    } else {
        sampled | FLAG_RANDOM
    }
}

/// Reads `RACEWAY_SAMPLE_RATE`: a plain decimal from 0 to 1 (`0.25`, `1`, `00.5`), surrounding
/// whitespace allowed. `Ok(None)` for an empty value (the default applies), `Err(())` for
/// anything else (a configuration error).
#[allow(clippy::result_unit_err)]
pub fn parse_sample_rate(value: &str) -> Result<Option<f64>, ()> {
    let text = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if text.is_empty() {
        return Ok(None);
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return Err(());
    }
    let rate: f64 = text.parse().map_err(|_| ())?;
    if (0.0..=1.0).contains(&rate) {
        Ok(Some(rate))
    } else {
        Err(())
    }
}
