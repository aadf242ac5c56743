// Two services over real HTTP, for every caller framework x callee framework x client.
import type { RacewayEvent, RacewayOptions } from '@raceway/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLIENTS,
  type ContextSnapshot,
  LATEST,
  order,
  type RunningServer,
  send,
  serviceOptions,
  single,
  traceEvents,
  uniqueService,
  useTestCollector,
} from './fixtures/index.js';

const collector = useTestCollector({ clients: true });

const combinations = LATEST.flatMap((caller) =>
  LATEST.flatMap((callee) => CLIENTS.map((client) => ({ caller, callee, client }))),
);

describe.each(combinations)(
  '$caller.name -> $callee.name via $client',
  ({ caller, callee, client }) => {
    let a: RunningServer;
    let b: RunningServer;
    let aOptions: RacewayOptions;
    let bOptions: RacewayOptions;

    beforeAll(async () => {
      aOptions = serviceOptions(collector, uniqueService(`a-${caller.name}`));
      bOptions = serviceOptions(collector, uniqueService(`b-${callee.name}`));
      b = await callee.start(bOptions);
      a = await caller.start(aOptions);
    });
    afterAll(async () => {
      await Promise.all([a.close(), b.close()]);
    });

    it('shares one trace, links the spans and orders the clocks', async () => {
      const target = encodeURIComponent(`${b.url}/users/5`);
      const response = await send(`${a.url}/call?to=${target}&client=${client}`);
      expect(response.status).toBe(200);
      const traceId = String(response.headers['x-raceway-trace-id']);
      const body = response.json<{
        context: ContextSnapshot;
        downstream: { context: ContextSnapshot; received: Record<string, number> };
      }>();
      expect(body.context.traceId).toBe(traceId);
      expect(body.downstream.context.traceId).toBe(traceId);
      // Installed twice, still one copy of each header; no tracestate to pass on.
      expect(body.downstream.received).toEqual({
        'x-raceway-trace-id': 1,
        'x-raceway-vc': 1,
        traceparent: 1,
        tracestate: 0,
      });

      const A = String(aOptions.serviceName);
      const B = String(bOptions.serviceName);
      const bothDone = (events: RacewayEvent[]) =>
        events.filter((e) => e.kind === 'response_sent').length === 2;
      const events = await traceEvents(collector, [aOptions, bOptions], traceId, bothDone);

      const aIn = single(events, 'request_received', A);
      const aSent = single(events, 'request_sent', A);
      const aBack = single(events, 'response_received', A);
      const aAfter = events.find((e) => e.service === A && e.kind === 'custom');
      const aOut = single(events, 'response_sent', A);
      const bIn = single(events, 'request_received', B);
      const bOut = single(events, 'response_sent', B);

      // Spans: the client call is a child of A's server span; B's server span a child of the call.
      expect(aSent.parent_span_id).toBe(aIn.span_id);
      expect(aBack.span_id).toBe(aSent.span_id);
      expect(bIn.parent_span_id).toBe(aSent.span_id);
      expect(bIn.span_id).toBe(body.downstream.context.spanId);
      expect(bIn.data.incoming).toEqual({ status: 'accepted', reasons: [] });
      expect(aSent.data).toMatchObject({ method: 'GET', url: `${b.url}/users/5` });
      expect(aBack.data).toMatchObject({ status: 200, remote_clock: true });

      // Clocks: B happens after A's request_sent and before everything A does after the response.
      expect(order(aSent, bIn)).toBe('before');
      expect(order(bOut, aBack)).toBe('before');
      expect(aAfter && order(bOut, aAfter)).toBe('before');
      expect(order(bOut, aOut)).toBe('before');
      expect(order(aIn, bIn)).toBe('before');
    });
  },
);
