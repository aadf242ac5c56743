// Manual propagation over real HTTP (spec 2.7): every getTraceHeaders() is one client call with
// a span id of its own, and mergeResponseHeaders() ends it.
import {
  getTraceHeaders,
  mergeResponseHeaders,
  type RacewayOptions,
  trackEvent,
} from '@raceway/core';
import { racewayMiddleware } from '@raceway/express';
import express5 from 'express5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from './fixtures/adapters/listen.js';
import {
  LATEST,
  ofKind,
  order,
  type RunningServer,
  send,
  serviceOptions,
  traceEvents,
  uniqueService,
  useTestCollector,
} from './fixtures/index.js';

interface CalleeAnswer {
  traceparent: string | null;
  received: Record<string, number>;
}

const collector = useTestCollector();
let caller: RunningServer;
let callee: RunningServer;
let callerOptions: RacewayOptions;
let calleeOptions: RacewayOptions;

beforeAll(async () => {
  callerOptions = serviceOptions(collector, uniqueService('manual-caller'));
  calleeOptions = serviceOptions(collector, uniqueService('manual-callee'));
  callee = await LATEST[2]!.start(calleeOptions);
  const app = express5();
  app.use(racewayMiddleware(callerOptions));
  // Three calls through node:http, which no Raceway instrumentation sees: the headers come
  // from getTraceHeaders only. `named` says whether each response names its request.
  app.get('/manual', async (req, res) => {
    const named = req.query.named === '1';
    const targets = [1, 2, 3].map((n) => `${callee.url}/users/${n}`);
    const sent = targets.map((url) => ({ url, headers: getTraceHeaders({ url, method: 'GET' }) }));
    // Answers arrive in reverse order: with names they still go to the right call.
    const answers = await Promise.all(sent.map(({ url, headers }) => send(url, { headers })));
    const order = named ? [2, 1, 0] : [0, 1, 2];
    for (const i of order) {
      const answer = answers[i]!;
      mergeResponseHeaders(answer.headers, {
        status: answer.status,
        request: named ? sent[i]!.headers : undefined,
      });
    }
    trackEvent('after_calls');
    res.json({ answers: answers.map((a) => a.json<CalleeAnswer>()) });
  });
  caller = await listen(app);
});
afterAll(async () => {
  await Promise.all([caller?.close(), callee?.close()]);
});

describe.each([
  { named: false, how: 'oldest open call first' },
  { named: true, how: 'responses naming their request' },
])('three manual calls, $how', ({ named }) => {
  it('carry three parent ids and are three client calls, each answered by its callee', async () => {
    const response = await send(`${caller.url}/manual?named=${named ? 1 : 0}`);
    expect(response.status).toBe(200);
    const traceId = String(response.headers['x-raceway-trace-id']);
    const { answers } = response.json<{ answers: CalleeAnswer[] }>();
    const parents = answers.map((a) => String(a.traceparent).split('-')[2]);
    expect(new Set(parents).size).toBe(3);
    for (const answer of answers) {
      expect(answer.received).toEqual({
        'x-raceway-trace-id': 1,
        'x-raceway-vc': 1,
        traceparent: 1,
        tracestate: 0,
      });
    }

    const A = String(callerOptions.serviceName);
    const B = String(calleeOptions.serviceName);
    const events = await traceEvents(
      collector,
      [callerOptions, calleeOptions],
      traceId,
      (all) => ofKind(all, 'response_sent').length === 4,
    );
    const server = ofKind(events, 'request_received', A)[0]!;
    const sent = ofKind(events, 'request_sent', A);
    const back = ofKind(events, 'response_received', A);
    expect(sent.map((e) => e.span_id)).toEqual(parents);
    expect(sent.every((e) => e.parent_span_id === server.span_id)).toBe(true);
    expect(sent.map((e) => e.data.url)).toEqual([1, 2, 3].map((n) => `${callee.url}/users/${n}`));
    // Each call's response_received is in the call's own span and merged its callee's clock.
    expect(back.map((e) => e.span_id).sort()).toEqual([...parents].sort());
    expect(back.every((e) => e.data.status === 200 && e.data.remote_clock === true)).toBe(true);
    for (const call of sent) {
      const calleeIn = ofKind(events, 'request_received', B).find(
        (e) => e.parent_span_id === call.span_id,
      );
      expect(calleeIn).toBeDefined();
      const calleeOut = ofKind(events, 'response_sent', B).find(
        (e) => e.span_id === calleeIn!.span_id,
      )!;
      const answered = back.find((e) => e.span_id === call.span_id)!;
      expect(order(call, calleeIn!)).toBe('before');
      expect(order(calleeOut, answered)).toBe('before');
      // The answer went to its own call: its host is the one that call targeted.
      expect(answered.data.url).toBe(call.data.url);
    }
    const after = events.find((e) => e.kind === 'custom' && e.service === A)!;
    for (const out of ofKind(events, 'response_sent', B)) expect(order(out, after)).toBe('before');
  });
});
