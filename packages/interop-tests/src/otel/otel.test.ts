// Services instrumented with OpenTelemetry only, between services instrumented with Raceway,
// over real HTTP, with the real OpenTelemetry SDKs as clients of the collector's POST
// /v1/traces: Raceway (Express) -> OpenTelemetry (Node, @opentelemetry/sdk-node, OTLP protobuf
// or JSON) -> Raceway (Python, Flask) -> OpenTelemetry (Python, opentelemetry-sdk, OTLP
// protobuf). One trace at the collector: four services in the dependency graph, each call one
// edge, the critical path through all four, no broken chain.
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
import { type ForeignServiceCommand, startForeignService } from '../shared/foreign-service.js';

const NODE_OTEL_SCRIPT = fileURLToPath(new URL('./otel-service.cjs', import.meta.url));
/** The Python SDK's virtualenv, made by `sdks/python/scripts/test.sh`. */
const PYTHON = fileURLToPath(new URL('../../../../sdks/python/.venv/bin/python', import.meta.url));
const PYTHON_RACEWAY_SCRIPT = fileURLToPath(new URL('../python/service.py', import.meta.url));
const PYTHON_OTEL_SCRIPT = fileURLToPath(new URL('../python/otel_service.py', import.meta.url));

async function foreign(s: Scenario, command: ForeignServiceCommand, name: string) {
  const service = await startForeignService(command, name, s.collector.url);
  s.defer(() => service.close());
  return service;
}

const python = (script: string, env: Record<string, string> = {}): ForeignServiceCommand => ({
  language: 'Python',
  executable: PYTHON,
  args: [script],
  setup: 'bash sdks/python/scripts/test.sh',
  env: { PYTHONUNBUFFERED: '1', ...env },
});

describe.each(['proto', 'json'] as const)(
  'Raceway -> OpenTelemetry (Node, OTLP %s) -> Raceway (Python) -> OpenTelemetry (Python)',
  (protocol) => {
    it('is one trace: parent links, one edge per call, all four services on the critical path', async () => {
      const s = await startScenario();
      onTestFinished(() => s.close());
      const otelPy = await foreign(s, python(PYTHON_OTEL_SCRIPT), `otel-py-${protocol}`);
      const racewayPy = await foreign(
        s,
        python(PYTHON_RACEWAY_SCRIPT, { RACEWAY_INTEROP_FRAMEWORK: 'flask' }),
        `py-${protocol}`,
      );
      const otelNode = await foreign(
        s,
        {
          language: 'OpenTelemetry (Node)',
          executable: process.execPath,
          args: [NODE_OTEL_SCRIPT],
          setup: 'pnpm install',
          env: { OTEL_PROTOCOL: protocol },
        },
        `otel-node-${protocol}`,
      );
      const front = await s.service({
        name: 'ts-front',
        framework: 'express',
        routes: {
          '/front': () => {
            const python = `${racewayPy.url}/chain?next=${encodeURIComponent(`${otelPy.url}/chain`)}`;
            return callService('fetch', `${otelNode.url}/chain?next=${encodeURIComponent(python)}`);
          },
        },
      });

      const { traceId, body } = await rootRequest(`${front.url}/front`);
      expect(body).toMatchObject({
        service: otelNode.name,
        downstream: {
          service: racewayPy.name,
          traceId,
          downstream: { service: otelPy.name, traceId },
        },
      });
      await Promise.all([otelNode.flush(), racewayPy.flush(), otelPy.flush()]);
      const [trace] = await s.settle([traceId], { serverSpans: 4 });
      const names = ['ts-front', otelNode.name, racewayPy.name, otelPy.name];
      expect([...trace!.services].sort()).toEqual([...names].sort());

      // Each server span's parent is the caller's client span, child of the caller's server
      // span: Raceway -> OpenTelemetry -> Raceway -> OpenTelemetry.
      const spans = allSpans(trace!);
      const server = (service: string) =>
        spans.find((x) => x.kind === 'server' && x.service === service)!;
      for (let i = 1; i < names.length; i++) {
        const callee = server(names[i]!);
        const call = spans.find((x) => x.span_id === callee.parent_span_id);
        expect(call, `${names[i]}'s parent`).toMatchObject({
          kind: 'client',
          service: names[i - 1],
          parent_span_id: server(names[i - 1]!).span_id,
        });
      }

      const api = collectorApi(s.collector.url);
      const edges = (await api.dependencies()).edges.map((e) => [e.from, e.to, e.calls]);
      for (let i = 1; i < names.length; i++) {
        expect(edges).toContainEqual([names[i - 1], names[i], 1]);
        expect(edges.filter(([from]) => from === names[i - 1])).toHaveLength(1);
      }

      const path = await api.criticalPath(traceId);
      const onPath = new Set(path.critical_path!.segments.map((x) => x.service));
      expect([...onPath].sort()).toEqual([...names].sort());
      const diagnostics = await api.traceDiagnostics(traceId);
      expect(diagnostics.diagnostics!.brokenChains).toEqual([]);
    });
  },
);
