import { type Static, Type } from '@sinclair/typebox';
import { Count, Nullable } from './common.js';

/**
 * The answer of `POST /v1/events` (spec/schemas/ingest-response.schema.json, with the
 * `message` of a 422). A test keeps it in step with the contract's file.
 */
export const IngestResponseSchema = Type.Object(
  {
    accepted: Count(),
    duplicates: Count(),
    rejected: Type.Optional(
      Type.Array(
        Type.Object(
          {
            index: Count(),
            id: Type.Optional(Nullable(Type.String())),
            errors: Type.Array(Type.String()),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    error: Type.Optional(Type.String()),
    message: Type.Optional(Type.String({ description: 'A 422: what to fix' })),
  },
  { $id: 'IngestResponse', title: 'Collector answer to POST /v1/events' },
);
export type IngestResponse = Static<typeof IngestResponseSchema>;
