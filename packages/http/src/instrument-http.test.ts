import http from 'node:http';
import https from 'node:https';
import { afterEach, expect, it } from 'vitest';
import {
  instrumentHttp,
  nodePublishesRequestCreated,
  uninstrumentHttp,
} from './instrument-http.js';
import { RacewayHttpAgent, RacewayHttpsAgent } from './tracing-agent.js';

afterEach(() => {
  uninstrumentHttp();
});

it('knows which Node versions publish http.client.request.created (22.12+, 23.2+)', () => {
  expect(nodePublishesRequestCreated('20.20.2')).toBe(false);
  expect(nodePublishesRequestCreated('22.11.0')).toBe(false);
  expect(nodePublishesRequestCreated('22.12.0')).toBe(true);
  expect(nodePublishesRequestCreated('23.2.0')).toBe(true);
  expect(nodePublishesRequestCreated('24.0.0')).toBe(true);
});

it('bad options are a coded error, at once', () => {
  expect(() => instrumentHttp({ propagateTO: ['inventory'] } as never)).toThrow(
    expect.objectContaining({
      code: 'RACEWAY_UNKNOWN_OPTION',
      message: expect.stringContaining('did you mean "propagateTo"?'),
    }),
  );
  expect(() => instrumentHttp({ propagateTo: [42] } as never)).toThrow(
    expect.objectContaining({ code: 'RACEWAY_INVALID_PROPAGATE_TO' }),
  );
});

it.runIf(!nodePublishesRequestCreated())(
  'on Node 20, replaces the default agents with tracing ones of the same settings, and back',
  () => {
    const httpBefore = http.globalAgent;
    const httpsBefore = https.globalAgent;
    instrumentHttp();
    expect(http.globalAgent).toBeInstanceOf(RacewayHttpAgent);
    expect(https.globalAgent).toBeInstanceOf(RacewayHttpsAgent);
    const options = (agent: unknown) => (agent as { options: Record<string, unknown> }).options;
    expect(options(http.globalAgent)).toMatchObject({ keepAlive: true, timeout: 5000 });
    // Installing twice keeps one set of agents.
    const installed = http.globalAgent;
    instrumentHttp();
    expect(http.globalAgent).toBe(installed);
    uninstrumentHttp();
    expect(http.globalAgent).toBe(httpBefore);
    expect(https.globalAgent).toBe(httpsBefore);
  },
);
