use std::collections::BTreeMap;

/// Largest counter a clock holds: 2^53-1, the largest integer every JSON reader keeps exactly.
pub const MAX_COUNTER: u64 = 9_007_199_254_740_991;

/// How clock `a` relates to clock `b` (spec 3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockOrder {
    Equal,
    Before,
    After,
    Concurrent,
}

impl ClockOrder {
    /// The spec's name of the order: `equal`, `before`, `after`, `concurrent`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockOrder::Equal => "equal",
            ClockOrder::Before => "before",
            ClockOrder::After => "after",
            ClockOrder::Concurrent => "concurrent",
        }
    }
}

/// A vector clock: component to counter (>= 1). Keys are kept in byte order, which is the
/// canonical order of the wire form (spec 3.3), so encoding never sorts.
///
/// ```
/// use raceway_client::clock::{ClockOrder, VectorClock};
/// let mut a = VectorClock::new();
/// a.increment("api#00000001");
/// let mut b = a.clone();
/// b.increment("web#00000002");
/// assert_eq!(a.compare(&b), ClockOrder::Before);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VectorClock {
    entries: BTreeMap<String, u64>,
}

impl VectorClock {
    /// The empty clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter of a component, 0 when absent.
    pub fn get(&self, component: &str) -> u64 {
        self.entries.get(component).copied().unwrap_or(0)
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True for the empty clock.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in canonical (byte) order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Adds one to a component (absent counts as 0). A counter at [`MAX_COUNTER`] stays there.
    pub fn increment(&mut self, component: &str) {
        match self.entries.get_mut(component) {
            Some(counter) => *counter = (*counter + 1).min(MAX_COUNTER),
            None => {
                self.entries.insert(component.to_owned(), 1);
            }
        }
    }

    /// Element-wise maximum with `other` (spec 3.2, 2.6).
    pub fn merge(&mut self, other: &VectorClock) {
        for (key, &value) in &other.entries {
            match self.entries.get_mut(key) {
                Some(counter) => *counter = (*counter).max(value),
                None => {
                    self.entries.insert(key.clone(), value);
                }
            }
        }
    }

    /// How `self` relates to `other` (spec 3.5); absent entries count as 0.
    pub fn compare(&self, other: &VectorClock) -> ClockOrder {
        let mut less = false;
        let mut greater = false;
        for (key, &value) in &self.entries {
            let theirs = other.get(key);
            less |= value < theirs;
            greater |= value > theirs;
        }
        for (key, &value) in &other.entries {
            if !self.entries.contains_key(key) && value > 0 {
                less = true;
            }
        }
        match (less, greater) {
            (false, false) => ClockOrder::Equal,
            (true, false) => ClockOrder::Before,
            (false, true) => ClockOrder::After,
            (true, true) => ClockOrder::Concurrent,
        }
    }

    /// Sets a counter as given; a counter of 0 removes the component. Values above
    /// [`MAX_COUNTER`] are clamped.
    pub fn set(&mut self, component: impl Into<String>, counter: u64) {
        let component = component.into();
        if counter == 0 {
            self.entries.remove(&component);
        } else {
            self.entries.insert(component, counter.min(MAX_COUNTER));
        }
    }
}

impl<K: Into<String>> FromIterator<(K, u64)> for VectorClock {
    fn from_iter<I: IntoIterator<Item = (K, u64)>>(iter: I) -> Self {
        let mut clock = VectorClock::new();
        for (key, value) in iter {
            clock.set(key, value);
        }
        clock
    }
}
