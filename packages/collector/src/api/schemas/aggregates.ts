import { type Static, Type } from '@sinclair/typebox';
import { Count, DateTime, Nullable, Ref } from './common.js';

export const LatencySchema = Type.Object(
  { p50: Nullable(Type.Number()), p95: Nullable(Type.Number()), p99: Nullable(Type.Number()) },
  { $id: 'Latency', description: 'Latency percentiles in ms (null without data)' },
);
export type Latency = Static<typeof LatencySchema>;

export const ServiceSdkSchema = Type.Object(
  {
    name: Type.String(),
    version: Type.String(),
    language: Nullable(Type.String()),
    instances: Count({ description: 'Distinct instances that sent batches with this SDK' }),
    last_seen: DateTime({ description: 'The last batch with this SDK' }),
  },
  { additionalProperties: false },
);
export type ServiceSdk = Static<typeof ServiceSdkSchema>;

export const ServiceMetricsSchema = Type.Object({
  service: Type.String(),
  instances: Count({ description: 'Distinct instances that reported events' }),
  requests: Count({ description: 'Server spans (requests handled)' }),
  errors: Count({ description: 'Answered with a status of 500 or more, or with an error' }),
  errorRate: Type.Number({ minimum: 0, maximum: 1 }),
  latencyMs: Ref(LatencySchema),
  requestsPerSecond: Nullable(Type.Number()),
  sdks: Type.Array(ServiceSdkSchema, {
    description:
      "The SDKs the service's batches named (`sdk` of spec/schemas/batch.schema.json), most recently seen first: learnt from the batches this collector process received, so empty for a service not heard from since the collector started",
  }),
});
export type ServiceMetrics = Static<typeof ServiceMetricsSchema>;

const Coverage = {
  events_considered: Count({ description: 'Events the aggregates of the range hold' }),
  truncated: Type.Boolean({
    description: 'Part of the range is older than what the aggregates cover',
  }),
};

export const ServicesAnswerSchema = Type.Object(
  {
    from: DateTime(),
    to: DateTime(),
    services: Type.Array(ServiceMetricsSchema),
    ...Coverage,
  },
  { description: 'Service metrics' },
);
export type ServicesAnswer = Static<typeof ServicesAnswerSchema>;

export const DependencyNodeSchema = Type.Object({
  name: Type.String(),
  uninstrumented: Type.Boolean({
    description: 'A host that answered calls without reporting spans',
  }),
});
export type DependencyNode = Static<typeof DependencyNodeSchema>;

export const DependencyEdgeSchema = Type.Object({
  from: Type.String(),
  to: Type.String(),
  calls: Count(),
  errors: Count({
    description: 'Calls answered with a status of 500 or more, or failed at the network level',
  }),
  errorRate: Type.Number({ minimum: 0, maximum: 1 }),
  unmatched: Count({
    description:
      "Calls to `to`'s host that no server span answered although other calls to that host were answered by `to`: broken chains",
  }),
  latencyMs: Ref(LatencySchema, { description: "Client-side latency (the caller's view)" }),
});
export type DependencyEdge = Static<typeof DependencyEdgeSchema>;

export const DependenciesAnswerSchema = Type.Object(
  {
    from: DateTime(),
    to: DateTime(),
    nodes: Type.Array(DependencyNodeSchema),
    edges: Type.Array(DependencyEdgeSchema),
    ...Coverage,
  },
  { description: 'The dependency graph' },
);
export type DependenciesAnswer = Static<typeof DependenciesAnswerSchema>;
