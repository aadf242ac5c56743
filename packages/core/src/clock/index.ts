export {
  CLOCK_DROPPED_KEY,
  type DecodedClock,
  decodeClock,
  type EncodeClockOptions,
  encodeClock,
  MAX_CLOCK_ENTRIES,
  MAX_CLOCK_HEADER_BYTES,
} from './codec.js';
export {
  type ClockEntries,
  type ClockOrder,
  isClockKey,
  MAX_CLOCK_COUNTER,
  VectorClock,
} from './vector-clock.js';
