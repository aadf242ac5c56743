//! What an application tells Raceway about shared state: the value or version it saw or wrote.

use serde_json::{Map, Value};

use crate::event::event_value;

/// A version, etag or counter that identifies the state seen or written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateVersion {
    Text(String),
    Number(i64),
}

impl From<&str> for StateVersion {
    fn from(value: &str) -> Self {
        StateVersion::Text(value.to_owned())
    }
}

impl From<String> for StateVersion {
    fn from(value: String) -> Self {
        StateVersion::Text(value)
    }
}

macro_rules! version_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for StateVersion {
            fn from(value: $t) -> Self {
                StateVersion::Number(i64::from(value))
            }
        }
    )*};
}
version_from_int!(i8, i16, i32, i64, u8, u16, u32);

/// One access to a named resource, for
/// [`track_state_read`](crate::RacewayClient::track_state_read) and
/// [`track_state_write`](crate::RacewayClient::track_state_write).
///
/// ```
/// use raceway_client::StateAccess;
/// let seen = StateAccess::value(&3).version(7);
/// let atomic = StateAccess::none().atomic(true); // an UPDATE ... SET x = x - 1 cannot lose a write
/// ```
#[derive(Clone, Debug, Default)]
pub struct StateAccess {
    value: Option<Value>,
    version: Option<StateVersion>,
    atomic: Option<bool>,
}

impl StateAccess {
    /// An access with nothing more to say than the resource's name.
    pub fn none() -> Self {
        Self::default()
    }

    /// An access that saw or wrote `value`, recorded as JSON (cut to 1 KiB of text). A value
    /// that cannot be represented as JSON is recorded as its error message.
    pub fn value<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        let value =
            serde_json::to_value(value).unwrap_or_else(|error| Value::String(error.to_string()));
        StateAccess {
            value: Some(event_value(value)),
            ..Self::default()
        }
    }

    /// The version, etag or counter of the state.
    pub fn version(mut self, version: impl Into<StateVersion>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// For writes: true for an update that cannot lose another write (compare-and-set);
    /// Raceway does not report races between atomic writes.
    pub fn atomic(mut self, atomic: bool) -> Self {
        self.atomic = Some(atomic);
        self
    }

    pub(crate) fn into_data(self, resource: String, write: bool) -> Value {
        let mut data = Map::new();
        data.insert("resource".into(), resource.into());
        if let Some(value) = self.value {
            data.insert("value".into(), value);
        }
        match self.version {
            Some(StateVersion::Text(text)) => {
                data.insert("version".into(), crate::event::clamp(&text, 512).into());
            }
            Some(StateVersion::Number(n)) => {
                data.insert("version".into(), n.into());
            }
            None => {}
        }
        if let (true, Some(atomic)) = (write, self.atomic) {
            data.insert("atomic".into(), atomic.into());
        }
        Value::Object(data)
    }
}

/// A resource or lock name as the schema accepts it (1-512 characters); `None` when empty.
pub(crate) fn name_of(name: &str) -> Option<String> {
    (!name.is_empty()).then(|| crate::event::clamp(name, 512))
}
