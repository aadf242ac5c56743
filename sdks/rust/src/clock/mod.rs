//! Vector clocks (spec 3): the clock type, its operations and its canonical wire codec.

mod codec;
mod vector_clock;

pub(crate) use codec::encode_with_marker;
pub use codec::{
    decode_clock, encode_clock, encode_clock_entries, ClockDecodeError, DecodedClock,
    EncodedEntries, DROPPED_KEY, MAX_CLOCK_ENTRIES, MAX_CLOCK_HEADER_BYTES,
};
pub use vector_clock::{ClockOrder, VectorClock, MAX_COUNTER};
