import diagnosticsChannel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { recordingTracer } from '../../test/helpers/recording-tracer.js';
import { runInContext } from '../context/async-context.js';
import {
  ChannelClientCalls,
  installChannelInstrumentation,
  uninstallChannelInstrumentation,
} from './channel-client.js';
import { startClientCall } from './client-call.js';

const URL_OF = new URL('http://inventory:3000/items');

/** A client library's request object as a test double: its headers, set through `setHeader`. */
function fakeRequest() {
  const headers: Record<string, string> = {};
  return {
    headers,
    init(traceparent?: string) {
      return {
        method: 'GET',
        url: URL_OF,
        traceparent,
        setHeader: (name: string, value: string) => {
          headers[name] = value;
        },
      };
    },
  };
}

describe('ChannelClientCalls', () => {
  it('starts one call per request, puts its headers on it, and ends it with the response', () => {
    const { tracer, events } = recordingTracer('shop');
    const ctx = tracer.startContext({});
    const calls = new ChannelClientCalls(undefined);
    const request = fakeRequest();
    runInContext(ctx, () => {
      calls.start(request, request.init());
      // A second message for the same request (two channels, two builds): still one call.
      calls.start(request, request.init());
    });
    expect(Object.keys(request.headers).sort()).toEqual([
      'X-Raceway-Trace-Id',
      'X-Raceway-VC',
      'traceparent',
    ]);
    expect(calls.has(request)).toBe(true);
    calls.respond(request, 200, () => undefined);
    calls.forget(request);
    expect(calls.has(request)).toBe(false);
    expect(events.map((e) => e.kind)).toEqual(['request_sent', 'response_received']);
    expect(events[1]?.data).toMatchObject({ status: 200, remote_clock: false });
  });

  it('leaves alone a request outside a context, or one an outer layer traces', () => {
    const { tracer, events } = recordingTracer('shop');
    const ctx = tracer.startContext({});
    const calls = new ChannelClientCalls(undefined);
    const outside = fakeRequest();
    calls.start(outside, outside.init());
    expect(outside.headers).toEqual({});
    const outer = runInContext(ctx, () => startClientCall({ url: URL_OF }))!;
    const inner = fakeRequest();
    runInContext(ctx, () => calls.start(inner, inner.init(outer.headers.traceparent)));
    expect(inner.headers).toEqual({});
    expect(calls.has(inner)).toBe(false);
    expect(events.map((e) => e.kind)).toEqual(['request_sent']);
  });

  it('ends a failed call with its error; after the response, records the error in its span', () => {
    const { tracer, events } = recordingTracer('shop');
    const ctx = tracer.startContext({});
    const calls = new ChannelClientCalls(undefined);
    const refused = fakeRequest();
    const cut = fakeRequest();
    runInContext(ctx, () => {
      calls.start(refused, refused.init());
      calls.start(cut, cut.init());
    });
    calls.fail(refused, new Error('connect ECONNREFUSED'));
    calls.respond(cut, 200, undefined);
    calls.fail(cut, new Error('body cut short'));
    const message = (data: unknown) => {
      const d = data as { message?: string; error?: { message?: string } };
      return d.message ?? d.error?.message;
    };
    expect(events.map((e) => [e.kind, message(e.data)])).toEqual([
      ['request_sent', undefined],
      ['request_sent', undefined],
      ['response_received', 'connect ECONNREFUSED'],
      ['response_received', undefined],
      ['error', 'body cut short'],
    ]);
  });

  it('never throws into the request when setting a header fails', () => {
    const { tracer } = recordingTracer('shop');
    const ctx = tracer.startContext({});
    const calls = new ChannelClientCalls(undefined);
    const request = {};
    expect(() =>
      runInContext(ctx, () =>
        calls.start(request, {
          method: 'GET',
          url: URL_OF,
          traceparent: undefined,
          setHeader: () => {
            throw new Error('headers already sent');
          },
        }),
      ),
    ).not.toThrow();
  });
});

describe('installChannelInstrumentation', () => {
  const key = Symbol.for('raceway.test.channel-installation');
  const channel = 'raceway.test.channel';
  afterEach(() => uninstallChannelInstrumentation(key));

  it('subscribes once, replaces the options when installed again, and unsubscribes', () => {
    const seen: unknown[] = [];
    let made = 0;
    let tornDown = 0;
    const spec = {
      key,
      name: 'instrumentTest',
      handlers: () => {
        made += 1;
        return { [channel]: (message: unknown) => seen.push(message) };
      },
      setUp: () => () => {
        tornDown += 1;
      },
    };
    installChannelInstrumentation({}, spec);
    installChannelInstrumentation({ propagateTo: ['inventory'] }, spec);
    diagnosticsChannel.channel(channel).publish('one');
    expect(seen).toEqual(['one']);
    expect(made).toBe(1);
    uninstallChannelInstrumentation(key);
    diagnosticsChannel.channel(channel).publish('two');
    expect(seen).toEqual(['one']);
    expect(tornDown).toBe(1);
    expect(() => installChannelInstrumentation({ serviceName: 'x' } as never, spec)).toThrow(
      expect.objectContaining({ code: 'RACEWAY_UNKNOWN_OPTION' }),
    );
  });
});
