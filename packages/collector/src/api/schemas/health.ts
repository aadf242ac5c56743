import { type Static, Type } from '@sinclair/typebox';
import { AnalysisStatusSchema } from './analysis.js';
import { Count, Nullable, Ref, StringEnum } from './common.js';

const StorageKind = StringEnum(['sqlite', 'postgres']);

const WriterSchema = Nullable(
  Type.Object({
    state: StringEnum(['ok', 'restarting', 'closed']),
    restarts: Count(),
    lastFailure: Nullable(Type.String()),
  }),
  { description: "SQLite's writer thread (null for PostgreSQL)" },
);

export const HealthSchema = Type.Object(
  {
    status: Type.Literal('ok'),
    storage: Type.Object({
      kind: StorageKind,
      location: Type.String({ description: 'File path, or URL without password' }),
      reachable: Type.Literal(true),
      writer: WriterSchema,
    }),
    counts: Type.Object({ events: Count(), traces: Count(), races: Count() }),
    analysis: Ref(AnalysisStatusSchema),
    memory_mib: Type.Object({ rss: Count(), heap_used: Count() }),
    uptime_s: Count(),
    retention_ms: Type.Number(),
    sdk_reported_dropped_events: Count({
      description: 'Events the SDKs said they dropped (`dropped` of their batches), in total',
    }),
  },
  { description: 'The collector and its storage work' },
);
export type Health = Static<typeof HealthSchema>;

export const HealthUnavailableSchema = Type.Object(
  {
    error: StringEnum(['storage_unreachable', 'storage_restarting']),
    message: Type.String(),
    status: StringEnum(['unavailable', 'restarting']),
    storage: Type.Object({
      kind: StorageKind,
      location: Type.String(),
      reachable: Type.Literal(false),
      writer: Type.Optional(WriterSchema),
      last_error: Type.Optional(Type.String()),
    }),
    analysis: Type.Optional(Ref(AnalysisStatusSchema)),
  },
  {
    description:
      'The storage cannot be reached (`status: unavailable`, `storage.last_error` says why), or its writer is restarting (`status: restarting`)',
  },
);
export type HealthUnavailable = Static<typeof HealthUnavailableSchema>;
