import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, startCollector } from '../src/server.js';
import { makeTrace, postBatch } from './fixtures.js';

// The read key against a client that owes the collector no courtesy: every request target below
// names a read route in some encoding or form that a router, a proxy or the collector's own
// fallbacks could take for /api. Each is sent byte for byte over a raw socket (fetch and curl
// normalise targets), and none may answer with stored data.

/** One raw HTTP/1.1 exchange: the status and body of the answer. */
function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('error', reject);
    // Connection: close makes the server end the exchange; the client does not half-close first,
    // which Node's server may take as an abort before an asynchronous answer is written.
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    const lines = [
      `${method} ${target} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Connection: close',
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    if (method === 'POST') lines.push('Content-Length: 0');
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}

/** Request targets that all mean a read route to some party on the way. */
function bypassTargets(port: number, traceId: string): Array<[method: string, target: string]> {
  const paths = [
    // percent-encoding of any character, and of every character
    '/%61pi/traces',
    '/%41pi/traces',
    '/a%70i/traces',
    '/ap%69/traces',
    '/api/%74races',
    '/%61%70%69/%74%72%61%63%65%73',
    '/api%2ftraces',
    '/api%2Ftraces',
    `/%61pi/traces/${traceId}`,
    `/api/traces/${traceId}%2fraces`,
    // double encoding
    '/%2561pi/traces',
    '/%25%36%31pi/traces',
    '/api%252ftraces',
    // dot segments, encoded or not
    '/x/../api/traces',
    '/ui/%2e%2e/api/traces',
    '/%2e%2e/api/traces',
    '/./api/traces',
    '/api/./traces',
    '/api/x/../traces',
    // empty segments
    '//api/traces',
    '/api//traces',
    '///api/traces',
    // trailing dots and slashes
    '/api/traces/',
    '/api/traces.',
    '/api./traces',
    '/api/traces/.',
    // case variants
    '/API/traces',
    '/Api/Traces',
    '/API/TRACES',
    // ; parameters
    '/api;x/traces',
    '/api/traces;x',
    '/api;/traces',
    // backslashes, NUL, query and fragment
    '/api\\traces',
    '/api%5ctraces',
    '/api/traces%00',
    '/api/traces?%61=1',
    '/api/traces#x',
    '/api',
    '/api/',
  ];
  const targets: Array<[string, string]> = paths.map((path) => ['GET', path]);
  for (const path of ['/api/traces', '/%61pi/traces', `/api/traces/${traceId}`]) {
    // absolute-form request targets
    targets.push(['GET', `http://127.0.0.1:${port}${path}`]);
    targets.push(['GET', `http://localhost${path}`]);
    targets.push(['GET', `HTTP://127.0.0.1:${port}${path}`]);
  }
  targets.push(
    ['HEAD', '/api/traces'],
    ['HEAD', '/%61pi/traces'],
    ['OPTIONS', '/api/traces'],
    ['OPTIONS', '/%61pi/traces'],
    ['OPTIONS', '*'],
    ['GET', '*'],
    ['POST', '/%61pi/analysis/run'],
    ['POST', '/API/analysis/run'],
    ['POST', `http://127.0.0.1:${port}/api/analysis/run`],
  );
  return targets;
}

/** One character of a path in any spelling a decoder could take back to it. */
function spellings(char: string): fc.Arbitrary<string> {
  const hex = char.charCodeAt(0).toString(16).padStart(2, '0');
  return fc.constantFrom(
    char,
    char.toUpperCase(),
    `%${hex}`,
    `%${hex.toUpperCase()}`,
    `%25${hex}`,
    `%2525${hex}`,
  );
}

/** A read route written with random encodings, case, dot segments, empty segments and `;`. */
function disguisedReadTarget(port: number): fc.Arbitrary<string> {
  const segment = (name: string) =>
    fc
      .tuple(
        fc.tuple(...[...name].map(spellings)).map((chars) => chars.join('')),
        fc.constantFrom('', ';x', '.', '..', '%2e'),
        fc.constantFrom('/', '//', '/./', '/x/../', '\\', '/%2e/', '%2f'),
      )
      .map(([text, suffix, separator]) => [text + (suffix === '..' ? '' : suffix), separator]);
  return fc
    .tuple(
      fc.constantFrom('', `http://127.0.0.1:${port}`, 'http://localhost'),
      fc.constantFrom('/', '//', '/./'),
      segment('api'),
      fc.constantFrom('traces', 'races', 'services', 'dependencies', 'openapi.json'),
      fc.constantFrom('', '/', '?limit=5', '.', ';a=b'),
    )
    .map(
      ([origin, lead, [api, separator], route, tail]) =>
        `${origin}${lead}${api}${separator}${route}${tail}`,
    );
}

describe('the read key cannot be bypassed', () => {
  let collector: Collector;
  let traceId: string;
  beforeAll(async () => {
    collector = await startCollector({
      port: 0,
      storage: 'sqlite::memory:',
      apiKeys: ['ingest-key'],
      readKeys: ['read-key'],
    });
    const events = makeTrace();
    traceId = events[0]!.trace_id;
    const ingest = await postBatch(
      collector.url,
      { events },
      { headers: { authorization: 'Bearer ingest-key' } },
    );
    expect(ingest.status).toBe(200);
  });
  afterAll(() => collector.close());

  it('answers every encoding and form of a read route without a key with 401 and no data', async () => {
    const leaks: string[] = [];
    for (const [method, target] of bypassTargets(collector.port, traceId)) {
      const res = await rawRequest(collector.port, method, target);
      // A request the server cannot parse at all (400) is refused too; anything else that is
      // not 401 is a way past the key.
      if (res.status !== 401 && res.status !== 400)
        leaks.push(`${method} ${target} -> ${res.status}`);
      if (res.body.includes(traceId)) leaks.push(`${method} ${target} -> leaked the trace id`);
    }
    expect(leaks).toEqual([]);
  });

  it('refuses read routes in random disguises (fuzz, 400 targets)', async () => {
    await fc.assert(
      fc.asyncProperty(disguisedReadTarget(collector.port), async (target) => {
        const res = await rawRequest(collector.port, 'GET', target);
        expect(res.body).not.toContain(traceId);
        expect([400, 401]).toContain(res.status);
      }),
      { numRuns: 400 },
    );
  });

  it('still answers the canonical routes with the read key, and the UI without one', async () => {
    const auth = { authorization: 'Bearer read-key' };
    const traces = await rawRequest(collector.port, 'GET', '/api/traces', auth);
    expect(traces.status).toBe(200);
    expect(traces.body).toContain(traceId);
    const absolute = await rawRequest(
      collector.port,
      'GET',
      `http://127.0.0.1:${collector.port}/api/traces`,
      auth,
    );
    expect(absolute.status).toBe(200);
    const health = await rawRequest(collector.port, 'GET', '/healthz');
    expect(health.status).toBe(200);
    const ui = await rawRequest(collector.port, 'GET', `/traces/${traceId}`);
    expect(ui.status).not.toBe(401);
    expect(ui.body).not.toContain('"events"');
  });

  it('keeps ingestion behind the ingest key in every form', async () => {
    for (const target of [
      '/v1/events',
      '/%761/events',
      `http://127.0.0.1:${collector.port}/v1/events`,
    ]) {
      const res = await rawRequest(collector.port, 'POST', target, {
        'content-type': 'application/json',
      });
      expect([401, 400, 404]).toContain(res.status);
    }
  });
});
