// Spec 2.8 with a stand-in for OpenTelemetry's registered API: which traceparent already on a
// request a channel instrumentation keeps (OpenTelemetry's client span of the same trace) and
// which it replaces, and the trace a server span without incoming context joins.
import { afterEach, describe, expect, it } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { decodeClock } from '../clock/codec.js';
import { runInContext } from '../context/async-context.js';
import { activeOtelSpanContext } from '../context/otel-span.js';
import type { RacewayEvent } from '../events.js';
import { ChannelClientCalls } from './channel-client.js';
import { isTracedCall, startClientCall } from './client-call.js';

const OTEL_API_KEY = Symbol.for('opentelemetry.js.api.1');
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
type Holder = { [OTEL_API_KEY]?: unknown };

/** Registers a stand-in OpenTelemetry API whose active span has this span context. */
function activeOtelSpan(
  spanContext: { traceId: string; spanId: string; traceFlags: number },
  kind?: number,
) {
  (globalThis as Holder)[OTEL_API_KEY] = {
    version: '1.9.1',
    context: {
      active: () => ({
        getValue: (key: symbol) =>
          key === SPAN_KEY ? { spanContext: () => spanContext, kind } : undefined,
      }),
    },
  };
}

// @opentelemetry/api's SpanKind.
const SERVER_KIND = 1;
const CLIENT_KIND = 2;

afterEach(() => {
  delete (globalThis as Holder)[OTEL_API_KEY];
});

const OTEL_SERVER = '1111111111111111';
const OTEL_CLIENT = '2222222222222222';

function send(existing: string | undefined, active = { spanId: OTEL_SERVER, kind: SERVER_KIND }) {
  const { tracer, events } = recordingTracer('shop');
  const ctx = tracer.startContext({});
  activeOtelSpan({ traceId: ctx.traceId, spanId: active.spanId, traceFlags: 1 }, active.kind);
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
      client: false,
    });
    activeOtelSpan({ traceId: 'a'.repeat(32), spanId: OTEL_CLIENT, traceFlags: 1 }, CLIENT_KIND);
    expect(activeOtelSpanContext()).toMatchObject({ spanId: OTEL_CLIENT, client: true });
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

  it("keeps the traceparent of OpenTelemetry's client span while that span is active", () => {
    // OpenTelemetry's http instrumentation creates node's request inside its client span.
    const { ctx, set, sent } = send(`00-TRACE-${OTEL_CLIENT}-01`, {
      spanId: OTEL_CLIENT,
      kind: CLIENT_KIND,
    });
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

  describe('a call whose traceparent a lower layer may replace (axios)', () => {
    function start() {
      const { tracer, events } = recordingTracer('shop');
      const ctx = tracer.startContext({});
      activeOtelSpan({ traceId: ctx.traceId, spanId: OTEL_SERVER, traceFlags: 1 }, SERVER_KIND);
      const call = runInContext(ctx, () =>
        startClientCall({ url: 'http://inventory:3000/items', traceparentMayBeReplaced: true }),
      )!;
      return { ctx, events, call };
    }

    it("records request_sent once it is sent, as OpenTelemetry's client span, with the clock it sent", () => {
      const { ctx, events, call } = start();
      expect(events).toEqual([]);
      call.sent(`00-${ctx.traceId}-${OTEL_CLIENT}-01`);
      const [sent] = events as [RacewayEvent<'request_sent'>];
      expect(sent).toMatchObject({ kind: 'request_sent', span_id: OTEL_CLIENT });
      expect(sent.parent_span_id).toBe(ctx.spanId);
      const headerClock = decodeClock(String(call.headers['X-Raceway-VC']));
      expect(headerClock.ok && headerClock.clock.toJSON()).toEqual(sent.clock);
      // node's layer below sees OpenTelemetry's header, and knows the call by its clock header.
      const otelHeader = `00-${ctx.traceId}-${OTEL_CLIENT}-01`;
      expect(isTracedCall(otelHeader, call.headers['X-Raceway-VC'])).toBe(true);
      call.end({ status: 200 });
      expect(isTracedCall(otelHeader, call.headers['X-Raceway-VC'])).toBe(false);
      expect(events.map((e) => [e.kind, e.span_id])).toEqual([
        ['request_sent', OTEL_CLIENT],
        ['response_received', OTEL_CLIENT],
      ]);
    });

    it('keeps its own span when its traceparent went out, or when it ends unsent', () => {
      const first = start();
      first.call.sent(first.call.headers.traceparent);
      const second = start();
      second.call.end({ error: new Error('refused') });
      for (const { events, call } of [first, second]) {
        expect(events[0]).toMatchObject({ kind: 'request_sent', span_id: call.spanId });
        expect(call.spanId).not.toBe(OTEL_CLIENT);
      }
    });

    it('records request_sent at once without OpenTelemetry in the trace', () => {
      delete (globalThis as Holder)[OTEL_API_KEY];
      const { tracer, events } = recordingTracer('shop');
      const ctx = tracer.startContext({});
      runInContext(ctx, () =>
        startClientCall({ url: 'http://inventory:3000/items', traceparentMayBeReplaced: true }),
      );
      expect(events.map((e) => e.kind)).toEqual(['request_sent']);
    });
  });
});
