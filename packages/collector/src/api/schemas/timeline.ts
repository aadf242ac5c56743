import { type Static, Type } from '@sinclair/typebox';
import { Count, DateTime, Nullable } from './common.js';

// `GET /api/services/timeline`: the service metrics and dependencies of a range, bucket by
// bucket, as small multiples draw them. Each series holds one value per bucket (`buckets`).

const Series = {
  requests: Type.Array(Count(), { description: 'Requests (server spans) or calls, per bucket' }),
  errors: Type.Array(Count(), { description: 'Of those, failed ones, per bucket' }),
  p50_ms: Type.Array(Nullable(Type.Number()), { description: 'Median latency (null: no data)' }),
  p99_ms: Type.Array(Nullable(Type.Number()), { description: '99th percentile latency' }),
};

export const TimelineSchema = Type.Object(
  {
    from: DateTime({ description: 'Start of the first bucket' }),
    to: DateTime(),
    step_s: Type.Integer({ minimum: 60, description: 'Length of a bucket, in seconds' }),
    buckets: Type.Array(DateTime(), { description: 'Start of each bucket, oldest first' }),
    services: Type.Array(
      Type.Object({ service: Type.String(), ...Series }, { additionalProperties: false }),
      { description: 'Per service, from its server spans' },
    ),
    edges: Type.Array(
      Type.Object(
        { from: Type.String(), to: Type.String(), ...Series },
        { additionalProperties: false },
      ),
      { description: "Per caller → callee, from the caller's client spans" },
    ),
    events_considered: Count({ description: 'Events the aggregates of the range hold' }),
    truncated: Type.Boolean({
      description: 'Part of the range is older than what the aggregates cover',
    }),
  },
  { description: 'Service and edge metrics over time' },
);
export type Timeline = Static<typeof TimelineSchema>;
