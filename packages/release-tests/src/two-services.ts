// A two-service trace through installed artifacts: `front` calls `back`, both report to the
// collector installed from its tarball, both stop with SIGTERM (so what they hold must be sent
// on the way out), and the collector must show one trace, the parent link across the call and
// the edge between them, with no diagnostic.
import type { ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import {
  freePort,
  type Launch,
  startProcess,
  stopProcess,
  waitForPort,
} from '../../../tooling/test-processes.js';

interface SpanNode {
  service: string;
  kind: string;
  children: SpanNode[];
}

export interface TwoServices {
  front: string;
  back: string;
  /** How each is started, given its name (and for `front`, `back`'s URL, also in DOWNSTREAM). */
  launch: (service: string, downstream?: string) => Launch;
  /** The request that makes `front` call `back`. */
  request: { method: string; path: string };
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  expect(response.status, url).toBe(200);
  return (await response.json()) as T;
}

/** Starts one service on a free port and waits until it answers. */
async function start(launch: Launch, env: Record<string, string>) {
  const port = await freePort();
  const child = startProcess(launch, { ...env, PORT: String(port) });
  await waitForPort(port, child);
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Runs the two services, sends one request through them, and checks the collector. */
export async function expectOneTraceAcross(collectorUrl: string, subject: TwoServices) {
  const { front, back } = subject;
  const common = { RACEWAY_URL: collectorUrl };
  const children: ChildProcess[] = [];
  try {
    const backEnd = await start(subject.launch(back), { ...common, SERVICE: back });
    children.push(backEnd.child);
    const frontEnd = await start(subject.launch(front, backEnd.url), {
      ...common,
      SERVICE: front,
      DOWNSTREAM: backEnd.url,
    });
    children.push(frontEnd.child);

    const response = await fetch(`${frontEnd.url}${subject.request.path}`, {
      method: subject.request.method,
    });
    expect(response.status).toBe(200);
    const traceId = response.headers.get('x-raceway-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    for (const child of children.splice(0)) await stopProcess(child);

    await fetch(`${collectorUrl}/api/analysis/run`, { method: 'POST' });
    const trace = await getJson<{ services: string[]; spans: SpanNode[]; analysis: string }>(
      `${collectorUrl}/api/traces/${traceId}`,
    );
    expect([...trace.services].sort()).toEqual([back, front].sort());
    // One root (front's server span), and back's server span under a client span of front.
    expect(trace.spans.map((s) => [s.service, s.kind])).toEqual([[front, 'server']]);
    const clientCall = trace.spans[0]!.children.find((s) => s.kind === 'client');
    expect(clientCall?.service).toBe(front);
    expect(clientCall?.children.map((s) => [s.service, s.kind])).toEqual([[back, 'server']]);

    const { edges } = await getJson<{ edges: { from: string; to: string; calls: number }[] }>(
      `${collectorUrl}/api/dependencies`,
    );
    expect(edges.filter((e) => e.from === front).map(({ to, calls }) => ({ to, calls }))).toEqual([
      { to: back, calls: 1 },
    ]);
    const { traces } = await getJson<{ traces: { trace_id: string; diagnostics: unknown[] }[] }>(
      `${collectorUrl}/api/diagnostics`,
    );
    expect(traces.find((t) => t.trace_id === traceId)?.diagnostics ?? []).toEqual([]);
  } finally {
    for (const child of children) await stopProcess(child);
  }
}
