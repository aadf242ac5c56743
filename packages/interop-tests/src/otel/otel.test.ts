// A Node service instrumented with OpenTelemetry only, between services instrumented with
// Raceway, over real HTTP: Raceway (Express) -> OpenTelemetry (Node, OTLP to POST /v1/traces)
// -> Raceway (Fastify). One trace at the collector, each call one edge of the dependency graph,
// the OpenTelemetry server span on the critical path.
import { fileURLToPath } from 'node:url';
import {
  allSpans,
  callService,
  collectorApi,
  rootRequest,
  type Scenario,
  startScenario,
} from '@raceway/scenario-tests/src/fixtures/index.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { type ForeignService, startForeignService } from '../shared/foreign-service.js';

const SERVICE_SCRIPT = fileURLToPath(new URL('./otel-service.cjs', import.meta.url));

async function otelService(s: Scenario, name: string, protocol: 'proto' | 'json') {
  const service: ForeignService = await startForeignService(
    {
      language: 'OpenTelemetry (Node)',
      executable: process.execPath,
      args: [SERVICE_SCRIPT],
      setup: 'pnpm install',
      env: { OTEL_PROTOCOL: protocol },
    },
    name,
    s.collector.url,
  );
  s.defer(() => service.close());
  return service;
}

describe.each(['proto', 'json'] as const)(
  'Raceway -> OpenTelemetry (OTLP %s) -> Raceway',
  (protocol) => {
    it('is one trace: parent links, one edge per call, the OpenTelemetry span on the critical path', async () => {
      const s = await startScenario();
      onTestFinished(() => s.close());
      const back = await s.service({
        name: 'ts-back',
        framework: 'fastify',
        routes: { '/work': () => ({ done: true }) },
      });
      const middle = await otelService(s, `otel-middle-${protocol}`, protocol);
      const front = await s.service({
        name: 'ts-front',
        framework: 'express',
        routes: {
          '/front': () =>
            callService(
              'fetch',
              `${middle.url}/chain?next=${encodeURIComponent(`${back.url}/work`)}`,
            ),
        },
      });

      const { traceId, body } = await rootRequest(`${front.url}/front`);
      expect(body).toMatchObject({ service: middle.name, downstream: { done: true } });
      await middle.flush();
      const [trace] = await s.settle([traceId], { serverSpans: 3 });
      expect([...trace!.services].sort()).toEqual([middle.name, 'ts-back', 'ts-front'].sort());

      const spans = allSpans(trace!);
      const server = (service: string) =>
        spans.find((x) => x.kind === 'server' && x.service === service)!;
      const frontServer = server('ts-front');
      const middleServer = server(middle.name);
      const backServer = server('ts-back');
      // Raceway's client span -> the OpenTelemetry server span -> its client span -> Raceway.
      const frontCall = spans.find((x) => x.span_id === middleServer.parent_span_id)!;
      expect(frontCall).toMatchObject({
        kind: 'client',
        service: 'ts-front',
        parent_span_id: frontServer.span_id,
      });
      const middleCall = spans.find((x) => x.span_id === backServer.parent_span_id)!;
      expect(middleCall).toMatchObject({
        kind: 'client',
        service: middle.name,
        parent_span_id: middleServer.span_id,
      });

      const api = collectorApi(s.collector.url);
      const edges = (await api.dependencies()).edges.map((e) => [e.from, e.to, e.calls]);
      expect(edges).toContainEqual(['ts-front', middle.name, 1]);
      expect(edges).toContainEqual([middle.name, 'ts-back', 1]);
      expect(edges.filter(([from]) => from === 'ts-front')).toHaveLength(1);

      const path = await api.criticalPath(traceId);
      const services = path.critical_path!.segments.map((x) => x.service);
      expect(services).toEqual(expect.arrayContaining(['ts-front', middle.name, 'ts-back']));
      const diagnostics = await api.traceDiagnostics(traceId);
      expect(diagnostics.diagnostics!.brokenChains).toEqual([]);
    });
  },
);
