// The OTLP/JSON shapes of values the export writes (proto.ts encodes them): ids as base64,
// times as decimal nanoseconds, attributes as KeyValues.

/** A hex trace or span id as OTLP/JSON bytes (base64). */
export function base64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** Microseconds since the epoch as OTLP's `*UnixNano` (a decimal string: past 2^53). */
export function nanos(us: number): string {
  return (BigInt(us) * 1000n).toString();
}

/** An OTLP KeyValue; objects and arrays travel as their JSON text. */
export function kv(key: string, value: unknown): unknown {
  if (typeof value === 'string') return { key, value: { stringValue: value } };
  if (typeof value === 'boolean') return { key, value: { boolValue: value } };
  if (typeof value === 'number') {
    return Number.isInteger(value)
      ? { key, value: { intValue: String(value) } }
      : { key, value: { doubleValue: value } };
  }
  return { key, value: { stringValue: JSON.stringify(value) ?? 'null' } };
}
