// Three services over real HTTP: a chain, and concurrent sibling calls.
import type { RacewayEvent, RacewayOptions } from '@raceway/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adapter,
  type ClientName,
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

interface Service {
  server: RunningServer;
  options: RacewayOptions;
  name: string;
}

async function startServices(names: string[]): Promise<Service[]> {
  return Promise.all(
    names.map(async (adapterName, i) => {
      const options = serviceOptions(collector, uniqueService(`${'abc'[i]}-${adapterName}`));
      const server = await adapter(adapterName).start(options);
      return { server, options, name: String(options.serviceName) };
    }),
  );
}

const responsesSent = (count: number) => (events: RacewayEvent[]) =>
  events.filter((e) => e.kind === 'response_sent').length === count;

describe.each([
  { adapters: ['express5', 'koa3', 'fastify5'], clients: ['fetch', 'axios'] },
  { adapters: ['fastify5', 'express4', 'koa2'], clients: ['undici', 'fetch'] },
  { adapters: ['koa3', 'fastify4', 'express5'], clients: ['axios', 'undici'] },
] as const)('chain $adapters via $clients', ({ adapters, clients }) => {
  let services: Service[];
  beforeAll(async () => {
    services = await startServices([...adapters]);
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.server.close()));
  });

  it('carries one trace through A -> B -> C with linked spans and ordered clocks', async () => {
    const [a, b, c] = services as [Service, Service, Service];
    const toC = `${c.server.url}/users/3`;
    const toB = `${b.server.url}/call?to=${encodeURIComponent(toC)}&client=${clients[1]}`;
    const response = await send(
      `${a.server.url}/call?to=${encodeURIComponent(toB)}&client=${clients[0] as ClientName}`,
    );
    expect(response.status).toBe(200);
    const traceId = String(response.headers['x-raceway-trace-id']);
    const events = await traceEvents(
      collector,
      services.map((s) => s.options),
      traceId,
      responsesSent(3),
    );
    expect(new Set(events.map((e) => e.service))).toEqual(new Set([a.name, b.name, c.name]));

    const aSent = single(events, 'request_sent', a.name);
    const aBack = single(events, 'response_received', a.name);
    const bIn = single(events, 'request_received', b.name);
    const bSent = single(events, 'request_sent', b.name);
    const bBack = single(events, 'response_received', b.name);
    const bOut = single(events, 'response_sent', b.name);
    const cIn = single(events, 'request_received', c.name);
    const cOut = single(events, 'response_sent', c.name);

    expect(bIn.parent_span_id).toBe(aSent.span_id);
    expect(bSent.parent_span_id).toBe(bIn.span_id);
    expect(cIn.parent_span_id).toBe(bSent.span_id);

    // A's call happens before all of C; C happens before B answers, B before A gets the answer.
    expect(order(aSent, cIn)).toBe('before');
    expect(order(cOut, bBack)).toBe('before');
    expect(order(cOut, bOut)).toBe('before');
    expect(order(bOut, aBack)).toBe('before');
    expect(order(cOut, aBack)).toBe('before');
    expect(aBack.data.remote_clock).toBe(true);
    expect(bBack.data.remote_clock).toBe(true);
  });
});

describe.each(['fetch', 'axios', 'undici'] as const)('sibling calls via %s', (client) => {
  let services: Service[];
  beforeAll(async () => {
    services = await startServices(['koa3', 'express5', 'fastify5']);
  });
  afterAll(async () => {
    await Promise.all(services.map((s) => s.server.close()));
  });

  it('makes the two callees concurrent, both after their call and before what follows', async () => {
    const [a, b, c] = services as [Service, Service, Service];
    const targets = [`${b.server.url}/users/1`, `${c.server.url}/users/2`].join(',');
    const response = await send(
      `${a.server.url}/fanout-call?to=${encodeURIComponent(targets)}&client=${client}`,
    );
    expect(response.status).toBe(200);
    const traceId = String(response.headers['x-raceway-trace-id']);
    const events = await traceEvents(
      collector,
      services.map((s) => s.options),
      traceId,
      responsesSent(3),
    );

    const calls = events.filter((e) => e.service === a.name && e.kind === 'request_sent');
    expect(calls).toHaveLength(2);
    const bIn = single(events, 'request_received', b.name);
    const cIn = single(events, 'request_received', c.name);
    const bOut = single(events, 'response_sent', b.name);
    const cOut = single(events, 'response_sent', c.name);
    const callToB = calls.find((e) => e.span_id === bIn.parent_span_id);
    const callToC = calls.find((e) => e.span_id === cIn.parent_span_id);
    expect(callToB).toBeDefined();
    expect(callToC).toBeDefined();

    // The siblings: neither callee's events are ordered with the other's.
    expect(order(bIn, cIn)).toBe('concurrent');
    expect(order(bOut, cOut)).toBe('concurrent');
    expect(order(bIn, cOut)).toBe('concurrent');
    // Each callee after its own call; A's work after both answers.
    expect(callToB && order(callToB, bIn)).toBe('before');
    expect(callToC && order(callToC, cIn)).toBe('before');
    const after = events.find((e) => e.service === a.name && e.kind === 'custom');
    expect(after && order(bOut, after)).toBe('before');
    expect(after && order(cOut, after)).toBe('before');
  });
});
