//! What the transport says about delivery without debug mode (spec 4.2, Warnings): the first
//! problem of each kind (failing, dropping) at once, with the collector's URL and what to
//! check; then at most one line of that kind a minute, counting what it left out. A wrong `RACEWAY_URL` must not look like a working
//! application with an empty collector.
//!
//! Lines go to `tracing` (target `raceway`) when a subscriber is installed, else to stderr: an
//! application without a subscriber would otherwise never see them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one warning per interval, so that a dead collector cannot flood the log.
pub(crate) const WARNING_INTERVAL: Duration = Duration::from_secs(60);

pub(crate) struct DeliveryWarnings {
    endpoint: String,
    debug: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    failing: Limit,
    dropped: Limit,
    warned_outage: bool,
}

/// The rate limit of one kind of warning.
#[derive(Default)]
struct Limit {
    last: Option<Instant>,
    silenced: u64,
}

impl DeliveryWarnings {
    pub(crate) fn new(endpoint: &str, debug: bool) -> Self {
        DeliveryWarnings {
            endpoint: endpoint.to_owned(),
            debug,
            state: Mutex::new(State::default()),
        }
    }

    /// A `retry` answer or no answer: the events are kept and sent again.
    pub(crate) fn failing(&self, problem: &str, held: u64, now: Instant) {
        let message = format!(
            "raceway: cannot deliver events to {} ({problem}); {held} event(s) held and retried \
             while the queue has room. Check that the collector runs there and that RACEWAY_URL \
             (server_url) points to it",
            self.endpoint
        );
        let mut state = self.lock();
        if self.say(&mut state.failing, message, now) {
            state.warned_outage = true;
        }
    }

    /// Events lost for good (spec 4.1): refused, unusable, retries exhausted, queue full.
    pub(crate) fn dropped(&self, count: u64, problem: &str, status: Option<u16>, now: Instant) {
        let hint = if status == Some(401) {
            "; check RACEWAY_API_KEY (api_key) against the collector's keys"
        } else {
            ""
        };
        let message = format!(
            "raceway: {count} event(s) for {} dropped: {problem}{hint}",
            self.endpoint
        );
        self.say(&mut self.lock().dropped, message, now);
    }

    /// The collector answered again: said (at info) only when the outage was warned about.
    pub(crate) fn recovered(&self, failures: u32) {
        let mut state = self.lock();
        if state.warned_outage || self.debug {
            tracing::info!(
                target: "raceway",
                "raceway: collector at {} reachable again after {failures} failed attempt(s)",
                self.endpoint
            );
        }
        state.warned_outage = false;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn say(&self, state: &mut Limit, mut message: String, now: Instant) -> bool {
        if !self.debug
            && state
                .last
                .is_some_and(|last| now.saturating_duration_since(last) < WARNING_INTERVAL)
        {
            state.silenced += 1;
            return false;
        }
        if state.silenced > 0 {
            message.push_str(&format!(
                " ({} more delivery problem(s) since the last warning)",
                state.silenced
            ));
        }
        state.last = Some(now);
        state.silenced = 0;
        warn(&message);
        true
    }
}

/// A warning through `tracing`, or on stderr when no subscriber would show it.
pub(crate) fn warn(message: &str) {
    let unheard = tracing::dispatcher::get_default(|d| d.is::<tracing::subscriber::NoSubscriber>());
    if unheard {
        eprintln!("{message}");
    } else {
        tracing::warn!(target: "raceway", "{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_rate_limited_and_count_what_they_left_out() {
        let warnings = DeliveryWarnings::new("http://c/v1/events", false);
        let start = Instant::now();
        warnings.failing("refused", 1, start);
        for second in 1..=5 {
            warnings.failing("refused", 2, start + Duration::from_secs(second));
        }
        assert_eq!(warnings.lock().failing.silenced, 5);
        // Another kind has a limit of its own: the first drop is said at once.
        warnings.dropped(1, "refused", Some(401), start + Duration::from_secs(6));
        assert_eq!(warnings.lock().dropped.silenced, 0);
        assert!(warnings.lock().dropped.last.is_some());
        warnings.failing(
            "refused",
            3,
            start + Duration::from_secs(5) + WARNING_INTERVAL,
        );
        assert_eq!(warnings.lock().failing.silenced, 0);
    }
}
