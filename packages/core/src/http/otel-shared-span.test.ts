// Spec 2.8 with a stand-in for OpenTelemetry's registered API: which traceparent already on a
// request a channel instrumentation keeps (OpenTelemetry's client span of the same trace) and
// which it replaces, and the trace a server span without incoming context joins.
import { afterEach, describe, expect, it } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { runInContext } from '../context/async-context.js';
import { activeOtelSpanContext } from '../context/otel-span.js';
import type { RacewayEvent } from '../events.js';
import { ChannelClientCalls } from './channel-client.js';

const OTEL_API_KEY = Symbol.for('opentelemetry.js.api.1');
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
type Holder = { [OTEL_API_KEY]?: unknown };

/** Registers a stand-in OpenTelemetry API whose active span has this span context. */
function activeOtelSpan(spanContext: { traceId: string; spanId: string; traceFlags: number }) {
  (globalThis as Holder)[OTEL_API_KEY] = {
    version: '1.9.1',
    context: {
      active: () => ({
        getValue: (key: symbol) =>
          key === SPAN_KEY ? { spanContext: () => spanContext } : undefined,
      }),
    },
  };
}

afterEach(() => {
  delete (globalThis as Holder)[OTEL_API_KEY];
});

const OTEL_SERVER = '1111111111111111';
const OTEL_CLIENT = '2222222222222222';

function send(existing: string | undefined) {
  const { tracer, events } = recordingTracer('shop');
  const ctx = tracer.startContext({});
  activeOtelSpan({ traceId: ctx.traceId, spanId: OTEL_SERVER, traceFlags: 1 });
  const set = new Map<string, string>();
  const calls = new ChannelClientCalls(undefined);
  runInContext(ctx, () =>
    calls.start(
      {},
      {
        method: 'GET',
        url: new URL('http://inventory:3000/items'),
        traceparent: existing?.replace('TRACE', ctx.traceId),
        setHeader: (name, value) => set.set(name.toLowerCase(), value),
      },
    ),
  );
  const sent = events.find((e) => e.kind === 'request_sent') as RacewayEvent<'request_sent'>;
  return { ctx, set, sent };
}

describe('OpenTelemetry in the same process', () => {
  it('reads the active span of a registered API, and nothing without one', () => {
    expect(activeOtelSpanContext()).toBeUndefined();
    activeOtelSpan({ traceId: 'a'.repeat(32), spanId: OTEL_SERVER, traceFlags: 1 });
    expect(activeOtelSpanContext()).toEqual({
      traceId: 'a'.repeat(32),
      spanId: OTEL_SERVER,
      traceFlags: '01',
    });
    activeOtelSpan({ traceId: '0'.repeat(32), spanId: OTEL_SERVER, traceFlags: 1 });
    expect(activeOtelSpanContext()).toBeUndefined();
  });

  it("keeps OpenTelemetry's client traceparent and takes its span id", () => {
    const { ctx, set, sent } = send(`00-TRACE-${OTEL_CLIENT}-01`);
    expect(set.has('traceparent')).toBe(false);
    expect(set.get('x-raceway-trace-id')).toBe(ctx.traceId);
    expect(sent.span_id).toBe(OTEL_CLIENT);
    expect(sent.parent_span_id).toBe(ctx.spanId);
  });

  it('replaces a traceparent naming the active OpenTelemetry span, or of another trace', () => {
    for (const existing of [
      `00-TRACE-${OTEL_SERVER}-01`,
      `00-${'b'.repeat(32)}-${OTEL_CLIENT}-01`,
    ]) {
      const { ctx, set, sent } = send(existing);
      expect(sent.span_id).not.toBe(OTEL_CLIENT);
      expect(set.get('traceparent')).toBe(`00-${ctx.traceId}-${sent.span_id}-03`);
    }
  });

  it('replaces any traceparent when no OpenTelemetry API is registered', () => {
    const { tracer, events } = recordingTracer('shop');
    const ctx = tracer.startContext({});
    const set = new Map<string, string>();
    runInContext(ctx, () =>
      new ChannelClientCalls(undefined).start(
        {},
        {
          method: 'GET',
          url: new URL('http://inventory:3000/items'),
          traceparent: `00-${ctx.traceId}-${OTEL_CLIENT}-01`,
          setHeader: (name, value) => set.set(name.toLowerCase(), value),
        },
      ),
    );
    const sent = events.find((e) => e.kind === 'request_sent')!;
    expect(sent.span_id).not.toBe(OTEL_CLIENT);
    expect(set.get('traceparent')).toContain(sent.span_id);
  });
});
