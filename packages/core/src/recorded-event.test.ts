import { describe, expect, it } from 'vitest';
import { recordingTracer } from '../test/helpers/recording-tracer.js';
import { schemaErrors, validateEvent } from '../test/helpers/schemas.js';
import { VectorClock } from './clock/vector-clock.js';
import { encodeEvents } from './transport/batch.js';

describe('RecordedEvent', () => {
  it('writes the same JSON as JSON.stringify of its plain form, valid against the schema', () => {
    const { tracer } = recordingTracer('svc');
    const ctx = tracer.startContext({});
    const event = ctx.record('custom', { name: 'a "quoted" name', attributes: { n: 1 } })!;
    const wire = JSON.parse(encodeEvents([event]).encoded!.json);
    expect(wire).toEqual(JSON.parse(JSON.stringify(event)));
    expect(wire.clock).toEqual({ [ctx.component]: 1 });
    expect(validateEvent(wire), schemaErrors(validateEvent)).toBe(true);
  });

  it('keeps a truncated clock and its clock_dropped in both forms', () => {
    const { tracer } = recordingTracer('svc');
    const peers = Object.fromEntries(
      Array.from({ length: 70 }, (_, i) => [`peer#${i.toString(16).padStart(8, '0')}`, i + 1]),
    );
    const ctx = tracer.startContext({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      clock: new VectorClock(peers),
    });
    const event = ctx.record('custom', { name: 'late' })!;
    const wire = JSON.parse(encodeEvents([event]).encoded!.json);
    expect(Object.keys(wire.clock)).toHaveLength(64);
    expect(wire.clock_dropped).toBe(7);
    expect(wire).toEqual(JSON.parse(JSON.stringify(event)));
    expect(event.clock).toEqual(wire.clock);
    expect(validateEvent(wire), schemaErrors(validateEvent)).toBe(true);
  });

  it('keeps a component named __proto__ as an entry of the clock object', () => {
    const { tracer } = recordingTracer('svc');
    const ctx = tracer.startContext({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      clock: new VectorClock([['__proto__', 3]]),
    });
    const event = ctx.record('custom', { name: 'x' })!;
    expect(Object.keys(event.clock)).toContain('__proto__');
    expect(Object.getOwnPropertyDescriptor(event.clock, '__proto__')?.value).toBe(3);
  });
});
