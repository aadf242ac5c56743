import { type Static, Type } from '@sinclair/typebox';
import { Count, DateTime, Nullable, StringEnum, TraceId } from './common.js';
import { ClockSchema } from './trace.js';

/** One access of the resource: who read or wrote it, when, what they saw or wrote. */
export const HistoryEntrySchema = Type.Object(
  {
    trace_id: TraceId(),
    event_id: Type.String(),
    service: Type.String(),
    instance: Type.String(),
    ts_us: Type.Integer({ description: 'Epoch microseconds' }),
    time: DateTime(),
    event_kind: StringEnum(['state_read', 'state_write', 'db_query']),
    kind: StringEnum(['read', 'write']),
    value: Type.Optional(
      Type.Unknown({
        description:
          'The value seen or written, when the SDK recorded it (for SQL: the parameter digest, or the raw value when sent)',
      }),
    ),
    version: Type.Optional(Type.Unsafe<string | number>({ type: ['string', 'integer'] })),
    statement: Nullable(Type.String(), {
      description: 'The SQL statement of a `db_query` event; null for state events',
    }),
    clock: ClockSchema,
    races: Type.Array(Type.String(), {
      description: 'Ids of the race groups on this resource whose examples include this access',
    }),
  },
  { description: 'One access of the resource' },
);

export const HistorySchema = Type.Object(
  {
    resource: Type.String(),
    from: DateTime(),
    to: DateTime(),
    entries: Type.Array(HistoryEntrySchema, {
      description:
        'In time order, except that the accesses of one trace follow happens-before (their vector clocks)',
    }),
    entries_returned: Count(),
    truncated: Type.Boolean({
      description: 'More accesses fell in the range than `limit`: the newest ones are kept',
    }),
  },
  { description: 'Every access of one resource across traces' },
);

export type HistoryEntry = Static<typeof HistoryEntrySchema>;
export type History = Static<typeof HistorySchema>;
