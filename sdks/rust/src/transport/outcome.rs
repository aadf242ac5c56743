//! What the transport does with a collector answer (spec 4.1), and how long it waits before a
//! retry.

use std::time::Duration;

/// The transport's reading of one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendOutcome {
    /// Every event is durable.
    Delivered,
    /// 422: the valid events are durable, the rejected ones are dropped, no retry.
    Partial,
    /// 400, 401, 413, 415 and other 3xx/4xx: the batch is dropped, no retry.
    Dropped,
    /// Network error, timeout, 408, 429, 5xx: nothing is guaranteed durable, retry.
    Retry,
}

/// Classifies an HTTP status, `None` for a request that got no answer.
pub(crate) fn classify_status(status: Option<u16>) -> SendOutcome {
    match status {
        None => SendOutcome::Retry,
        Some(200..=299) => SendOutcome::Delivered,
        Some(422) => SendOutcome::Partial,
        Some(408 | 429) | Some(500..) => SendOutcome::Retry,
        Some(_) => SendOutcome::Dropped,
    }
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

/// Delay before retry number `attempt` (0 for the first): "full jitter", uniform between 0 and
/// min(cap, base * 2^attempt), so processes that lost the collector together do not come back
/// in waves.
pub(crate) fn backoff_delay(attempt: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let ceiling = base.saturating_mul(1u32 << attempt.min(20)).min(cap);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

/// A `Retry-After` given in seconds; HTTP dates are ignored (the jittered backoff applies).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let text = value.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_follow_spec_4_1() {
        assert_eq!(classify_status(Some(200)), SendOutcome::Delivered);
        assert_eq!(classify_status(Some(422)), SendOutcome::Partial);
        for status in [400, 401, 413, 415, 404] {
            assert_eq!(
                classify_status(Some(status)),
                SendOutcome::Dropped,
                "{status}"
            );
        }
        for status in [Some(408), Some(429), Some(500), Some(503), None] {
            assert_eq!(classify_status(status), SendOutcome::Retry, "{status:?}");
        }
    }

    #[test]
    fn rejected_counts_are_bounded() {
        assert_eq!(count_rejected(br#"{"rejected":[{},{}]}"#, 10), 2);
        assert_eq!(count_rejected(b"not json", 10), 10);
        assert_eq!(count_rejected(br#"{"rejected":[{},{},{}]}"#, 2), 2);
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(5);
        assert_eq!(backoff_delay(0, base, cap, 1.0), base);
        assert_eq!(backoff_delay(3, base, cap, 1.0), Duration::from_millis(800));
        assert_eq!(backoff_delay(30, base, cap, 1.0), cap);
        assert_eq!(backoff_delay(3, base, cap, 0.0), Duration::ZERO);
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("-1"), None);
    }
}
