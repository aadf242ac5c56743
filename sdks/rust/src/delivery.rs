//! How the transport reads a collector answer and how long it waits before a retry (spec 4.1,
//! 4.2): pure functions, pinned by `spec/vectors/delivery.json` and used by the transport.

use std::time::{Duration, SystemTime};

/// Scale of the retry delays: retry n waits up to min(cap, base * 2^n).
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// Longest wait before a retry, `Retry-After` included.
pub const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// The exponent of the backoff stops growing here (250 ms * 2^30 is far above the cap anyway).
const MAX_EXPONENT: u32 = 30;

/// What an answer of the collector means for the batch (spec 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: every event is durable.
    Delivered,
    /// 422: the valid events are durable, the rejected ones are dropped, no retry.
    Partial,
    /// Any other 1xx, 3xx or 4xx but 408 and 429, or a status outside 100-599: the batch is
    /// unusable as sent and dropped, no retry.
    Dropped,
    /// 408, 429, 5xx or no answer: nothing is guaranteed durable, retry.
    Retry,
}

impl Outcome {
    /// The outcome as the spec writes it (`delivered`, `partial`, `dropped`, `retry`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Partial => "partial",
            Outcome::Dropped => "dropped",
            Outcome::Retry => "retry",
        }
    }
}

/// Classifies an HTTP status, `None` for a request that got no answer (refused, reset, timed
/// out).
///
/// ```
/// use raceway_client::delivery::{classify, Outcome};
/// assert_eq!(classify(Some(503)), Outcome::Retry);
/// assert_eq!(classify(Some(401)), Outcome::Dropped);
/// assert_eq!(classify(None), Outcome::Retry);
/// ```
pub fn classify(status: Option<u16>) -> Outcome {
    match status {
        None | Some(408 | 429 | 500..=599) => Outcome::Retry,
        Some(200..=299) => Outcome::Delivered,
        Some(422) => Outcome::Partial,
        Some(_) => Outcome::Dropped,
    }
}

/// The delay a `Retry-After` header asks for, from `now`: delta seconds (digits alone) or an
/// HTTP date (IMF-fixdate, RFC 850 or asctime; a date already past asks for no delay). `None`
/// when the value is neither: negative, a fraction, empty, a date without weekday and month
/// names.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use raceway_client::delivery::parse_retry_after;
/// assert_eq!(parse_retry_after(" 7 ", SystemTime::now()), Some(Duration::from_secs(7)));
/// assert_eq!(parse_retry_after("1.5", SystemTime::now()), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let text = value.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        // Digits too many for a u64 are "a very long time": the cap applies anyway.
        return Some(Duration::from_secs(text.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Delay before retry number `attempt` (0 for the first): "full jitter", `random` (a draw in
/// [0, 1)) times min([`BACKOFF_CAP`], [`BACKOFF_BASE`] * 2^min(attempt, 30)), floored to whole
/// milliseconds. Randomising the whole interval spreads the retries of processes that lost the
/// collector together, instead of having them come back in waves.
///
/// ```
/// use std::time::Duration;
/// use raceway_client::delivery::backoff_delay;
/// assert_eq!(backoff_delay(1, 0.5), Duration::from_millis(250));
/// assert_eq!(backoff_delay(1000, 0.5), Duration::from_millis(2500));
/// ```
pub fn backoff_delay(attempt: u32, random: f64) -> Duration {
    let base = BACKOFF_BASE.as_millis() as u64;
    let cap = BACKOFF_CAP.as_millis() as u64;
    let ceiling = (base << attempt.min(MAX_EXPONENT)).min(cap);
    // Computed in doubles, as every SDK does, so that a draw gives the same delay everywhere.
    let millis = (random.clamp(0.0, 1.0) * ceiling as f64).floor() as u64;
    Duration::from_millis(millis)
}

/// Delay before retry number `attempt`: the jittered backoff, raised to what `Retry-After`
/// asked (the header parsed by [`parse_retry_after`]), at most [`BACKOFF_CAP`].
pub fn retry_delay(attempt: u32, random: f64, retry_after: Option<Duration>) -> Duration {
    backoff_delay(attempt, random)
        .max(retry_after.unwrap_or(Duration::ZERO))
        .min(BACKOFF_CAP)
}

/// How many events a 422 answer rejected: the length of its `rejected` list, at most the batch
/// size; an answer that cannot be read counts the whole batch, so the drop count errs towards
/// reporting a problem.
pub(crate) fn count_rejected(body: &[u8], batch_size: usize) -> usize {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("rejected")?.as_array().map(Vec::len))
        .map_or(batch_size, |n| n.min(batch_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_outside_the_http_range_are_dropped() {
        for status in [0, 99, 600, 999, u16::MAX] {
            assert_eq!(classify(Some(status)), Outcome::Dropped, "{status}");
        }
        assert_eq!(classify(Some(599)), Outcome::Retry);
    }

    #[test]
    fn rejected_counts_are_bounded() {
        assert_eq!(count_rejected(br#"{"rejected":[{},{}]}"#, 10), 2);
        assert_eq!(count_rejected(b"not json", 10), 10);
        assert_eq!(count_rejected(br#"{"rejected":[{},{},{}]}"#, 2), 2);
    }

    #[test]
    fn retry_after_reads_every_http_date_format() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:30 GMT").unwrap();
        let seven = Some(Duration::from_secs(7));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            seven
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
            seven
        );
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", now), seven);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(retry_delay(0, 0.0, Some(Duration::MAX)), BACKOFF_CAP);
    }

    #[test]
    fn backoff_stays_below_its_ceiling() {
        for attempt in [0, 1, 5, 30, 31, u32::MAX] {
            let ceiling = (BACKOFF_BASE * 2u32.pow(attempt.min(5))).min(BACKOFF_CAP);
            assert!(backoff_delay(attempt, 0.999_999) < ceiling, "{attempt}");
            assert_eq!(backoff_delay(attempt, 0.0), Duration::ZERO);
        }
    }
}
