import batchSchema from '../schemas/batch.schema.json' with { type: 'json' };
import eventSchema from '../schemas/event.schema.json' with { type: 'json' };
import ingestResponseSchema from '../schemas/ingest-response.schema.json' with { type: 'json' };
import { EPOCH_MS_PATTERN } from './params.js';

// The OpenAPI 3.1 description of every route, served at /api/openapi.json. A test walks the
// routes Fastify registered and fails if one is missing here; `scripts/schemathesis.sh` (run by
// `pnpm test`) fuzzes the real collector against it with every check.

const json = (schema: object, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const error = (description: string) => json({ $ref: '#/components/schemas/Error' }, description);

/** A contract schema embedded as a component: without its own `$id`/`$schema`. */
function embedded<T extends Record<string, unknown>>(schema: T): Omit<T, '$id' | '$schema'> {
  const { $id: _id, $schema: _schema, ...rest } = schema;
  return rest;
}

const HEX32 = '^[0-9a-f]{32}$';
/** RFC 3339 date-time as the server parses it (time params), or epoch milliseconds. */
const DATE_TIME =
  '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$';

const traceIdPath = {
  name: 'traceId',
  in: 'path',
  required: true,
  description:
    '32 hex digits, not all zero (upper case and a dashed UUID are accepted and normalised)',
  schema: {
    type: 'string',
    pattern:
      '^([0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$',
    not: { pattern: '^[0-]*$' },
  },
};

const param = (name: string, description: string, schema: object = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

const timeSchema = {
  type: 'string',
  anyOf: [{ pattern: DATE_TIME }, { pattern: EPOCH_MS_PATTERN }],
  description:
    'RFC 3339 date-time (`2026-01-31T12:00:00Z`) or epoch milliseconds, from 1970 to 9999 (other times: 400)',
};
const textFilter = (name: string, description: string) =>
  param(name, `${description} (empty: no filter)`, { type: 'string', maxLength: 512 });
const from = param('from', 'Start of the time range', timeSchema);
const to = param('to', 'End of the time range (after `from`)', timeSchema);
const cursor = param('cursor', 'The `next_cursor` of the previous page, unchanged (opaque)', {
  type: 'string',
  pattern: '^[A-Za-z0-9_-]+$',
});
const limit = (fallback: number, max: number) =>
  param('limit', `Page size (default ${fallback})`, { type: 'integer', minimum: 1, maximum: max });

const dateTime = { type: 'string', format: 'date-time' };
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' };
const traceId = { type: 'string', pattern: HEX32 };

const analysisHead = {
  trace_id: traceId,
  analysis: {
    enum: ['done', 'pending'],
    description: '`pending` while events arrived after the last analysis (see /api/analysis/run)',
  },
  analyzed_at: nullableDateTime,
};
const analysisHeadRequired = ['trace_id', 'analysis', 'analyzed_at'];

const traceNotFound = error('No trace with this id is stored');
const badRequest = error('A parameter is malformed; `message` says which and how to fix it');
/** Answers every route can give besides its own. */
const common = {
  '401': error('Keys are configured and the request has no valid key (`WWW-Authenticate: Bearer`)'),
  '421': error('The collector listens on loopback and the Host header names another host'),
  '503': error('The storage failed or is restarting; retry later'),
};
const page = (items: string, schema: object) => ({
  type: 'object',
  required: [items, 'next_cursor'],
  properties: {
    [items]: { type: 'array', items: schema },
    next_cursor: { type: ['string', 'null'] },
  },
});

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Raceway collector',
    version: '1',
    description:
      'Ingestion (`POST /v1/events`, spec/README.md section 4) and the query API of the Raceway collector. Errors are always JSON `{error, message, ...}`. Keys: see the `apiKey` security scheme and packages/collector/README.md, "Access control".',
  },
  security: [{ apiKey: [] }],
  components: {
    securitySchemes: {
      apiKey: {
        type: 'http',
        scheme: 'bearer',
        description:
          'An ingest key (`--api-key`) on /v1/events; a read key (`--read-key`, or an ingest key when no read key is set) on /api. Not needed when the collector has no key configured.',
      },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error', 'message'],
        properties: {
          error: { type: 'string', description: 'A stable code, e.g. `invalid_json`' },
          message: { type: 'string', description: 'What went wrong and how to fix it' },
        },
      },
      Event: embedded(eventSchema),
      Batch: {
        ...embedded(batchSchema),
        properties: {
          ...batchSchema.properties,
          events: {
            ...batchSchema.properties.events,
            items: { $ref: '#/components/schemas/Event' },
          },
        },
      },
      IngestResponse: embedded(ingestResponseSchema),
      TraceSummary: {
        type: 'object',
        required: [
          'trace_id',
          'root_service',
          'root_method',
          'root_route',
          'start_us',
          'started_at',
          'end_us',
          'duration_ms',
          'services',
          'span_count',
          'event_count',
          'error_count',
          'race_count',
          'status',
          'analysis',
        ],
        properties: {
          trace_id: traceId,
          root_service: { type: ['string', 'null'] },
          root_method: { type: ['string', 'null'] },
          root_route: { type: ['string', 'null'] },
          start_us: { type: 'integer' },
          started_at: dateTime,
          end_us: { type: 'integer' },
          duration_ms: { type: 'number' },
          services: { type: 'array', items: { type: 'string' } },
          span_count: { type: 'integer', minimum: 0 },
          event_count: { type: 'integer', minimum: 0 },
          error_count: { type: 'integer', minimum: 0 },
          race_count: { type: 'integer', minimum: 0, description: 'Race groups of the trace' },
          status: { enum: ['ok', 'error'] },
          analysis: { enum: ['done', 'pending'] },
        },
      },
      SpanEvent: {
        type: 'object',
        required: ['id', 'kind', 'ts_us', 'component', 'clock', 'data'],
        properties: {
          id: { type: 'string', pattern: HEX32 },
          kind: { type: 'string' },
          ts_us: { type: 'integer' },
          component: { type: 'string' },
          clock: { type: 'object', additionalProperties: { type: 'integer' } },
          clock_dropped: { type: 'integer' },
          data: { type: 'object' },
        },
      },
      Span: {
        type: 'object',
        required: [
          'span_id',
          'parent_span_id',
          'service',
          'kind',
          'name',
          'start_us',
          'start',
          'events',
          'children',
        ],
        properties: {
          span_id: { type: 'string' },
          parent_span_id: { type: ['string', 'null'] },
          parent_missing: { type: 'boolean' },
          service: { type: 'string' },
          instance: { type: 'string' },
          kind: { enum: ['server', 'client', 'internal'] },
          name: {
            type: 'string',
            description: '`GET /orders/:id` (server), `POST http://host/path` (client)',
          },
          method: { type: ['string', 'null'] },
          route: { type: ['string', 'null'] },
          url: { type: ['string', 'null'] },
          host: { type: ['string', 'null'] },
          status: { type: ['integer', 'null'] },
          error: { type: ['object', 'null'] },
          failed: { type: 'boolean' },
          complete: { type: 'boolean', description: 'Both ends of the span were recorded' },
          incoming: {
            type: ['object', 'null'],
            description: 'Server spans: how the incoming trace context was taken (spec 2.4)',
          },
          start_us: { type: 'integer' },
          start: dateTime,
          duration_ms: { type: 'number' },
          events: { type: 'array', items: { $ref: '#/components/schemas/SpanEvent' } },
          children: { type: 'array', items: { $ref: '#/components/schemas/Span' } },
        },
      },
      RaceAccess: {
        type: 'object',
        description: 'One access a race involves, with its evidence',
        required: [
          'eventId',
          'traceId',
          'kind',
          'service',
          'instance',
          'component',
          'spanId',
          'tsUs',
          'clock',
          'atomic',
          'locks',
        ],
        properties: {
          eventId: { type: 'string' },
          traceId: { type: 'string', pattern: '^[0-9a-f]{32}$' },
          kind: { enum: ['state_read', 'state_write'] },
          service: { type: 'string' },
          instance: { type: 'string' },
          component: { type: 'string' },
          spanId: { type: 'string' },
          route: {
            type: ['string', 'null'],
            description: 'Route template of the server span the access ran in',
          },
          tsUs: { type: 'integer' },
          clock: { type: 'object', additionalProperties: { type: 'integer' } },
          clockDropped: { type: 'integer' },
          value: { description: 'The value seen or written, when the SDK recorded it' },
          version: { type: ['string', 'integer'] },
          atomic: { type: 'boolean' },
          locks: { type: 'array', items: { type: 'string' } },
        },
      },
      RaceExample: {
        type: 'object',
        description:
          'One instance of a race group: two accesses (write-write, read-write) or four (lost update: read A, write A, read B, write B), with full evidence',
        required: [
          'id',
          'kind',
          'scope',
          'resource',
          'confidence',
          'evidence',
          'accesses',
          'services',
          'traceIds',
          'explanation',
        ],
        properties: {
          id: { type: 'string' },
          kind: { enum: ['write_write', 'read_write', 'lost_update'] },
          scope: { enum: ['trace', 'cross_trace'] },
          resource: { type: 'string' },
          confidence: { enum: ['certain', 'uncertain'] },
          evidence: { enum: ['clock', 'same_version', 'same_value', 'timing'] },
          accesses: { type: 'array', items: { $ref: '#/components/schemas/RaceAccess' } },
          services: { type: 'array', items: { type: 'string' } },
          traceIds: { type: 'array', items: { type: 'string' } },
          overlapMs: { type: 'number' },
          explanation: { type: 'string' },
        },
      },
      RaceSide: {
        type: 'object',
        required: ['service', 'route'],
        properties: {
          service: { type: 'string' },
          route: {
            type: ['string', 'null'],
            description: 'Route template of the server span, null outside one',
          },
        },
      },
      Race: {
        type: 'object',
        description:
          'A race group: every instance of one race type on one resource between the same two sides (service and route), as TSan reports one race per pair of sites. `count` instances were found; `examples` holds up to 3 of them with full evidence.',
        required: [
          'id',
          'scope',
          'kind',
          'resource',
          'sides',
          'services',
          'trace_ids',
          'count',
          'count_exact',
          'confidence',
          'ts_us',
          'time',
          'last_ts_us',
          'last_time',
          'explanation',
          'examples',
        ],
        properties: {
          id: { type: 'string', pattern: '^[0-9a-f]{1,32}$' },
          scope: { enum: ['trace', 'cross'] },
          kind: { enum: ['write_write', 'read_write', 'lost_update'] },
          resource: { type: 'string' },
          sides: {
            type: 'array',
            minItems: 2,
            maxItems: 2,
            items: { $ref: '#/components/schemas/RaceSide' },
          },
          services: {
            type: 'array',
            items: { type: 'string' },
            description: 'Distinct services of the two sides',
          },
          trace_ids: { type: 'array', items: { type: 'string', pattern: '^[0-9a-f]{32}$' } },
          count: { type: 'integer', minimum: 1, description: 'Instances found' },
          count_exact: {
            type: 'boolean',
            description:
              'false when the resource had more concurrent contexts than the exact detector takes: `count` is then the number of accesses found racing with the other side (at least one per racing access), see the trace diagnostics `analysisLimits`',
          },
          confidence: { enum: ['certain', 'uncertain'] },
          evidence: { enum: ['clock', 'same_version', 'same_value', 'timing'] },
          ts_us: { type: 'integer', description: 'Earliest access of the group' },
          time: { type: 'string', format: 'date-time' },
          last_ts_us: { type: 'integer', description: 'Latest access of the group' },
          last_time: { type: 'string', format: 'date-time' },
          explanation: { type: 'string' },
          examples: {
            type: 'array',
            maxItems: 3,
            items: { $ref: '#/components/schemas/RaceExample' },
          },
        },
      },
      AnalysisStatus: {
        type: 'object',
        required: [
          'pending_traces',
          'pending_resources',
          'running',
          'traces_analyzed',
          'cross_trace_passes',
          'failures',
          'last_run_at',
          'delay_ms',
        ],
        properties: {
          pending_traces: { type: 'integer', minimum: 0 },
          pending_resources: { type: 'integer', minimum: 0 },
          running: { type: 'boolean' },
          traces_analyzed: { type: 'integer', minimum: 0 },
          cross_trace_passes: { type: 'integer', minimum: 0 },
          failures: { type: 'integer', minimum: 0 },
          last_run_at: nullableDateTime,
          delay_ms: { type: 'number' },
        },
      },
      Latency: {
        type: 'object',
        required: ['p50', 'p95', 'p99'],
        properties: {
          p50: { type: ['number', 'null'] },
          p95: { type: ['number', 'null'] },
          p99: { type: ['number', 'null'] },
        },
      },
    },
  },
  paths: {
    '/v1/events': {
      post: {
        summary: 'Ingest a batch of events',
        description:
          'Body: a JSON batch (spec/schemas/batch.schema.json), optionally `Content-Encoding: gzip`. At most 5 MiB as received, 20 MiB decompressed, 5000 events. Answered only after the stored events are durable. Idempotent on event id. A batch mixing valid and invalid events: the valid ones are stored, the answer is 422 listing the rejected ones. Beyond the schema, an event is rejected when nested deeper than 32 levels, when its `data` is above 64 KiB of JSON, when it holds a non-finite number, when its timestamp is more than 10 minutes (`--max-clock-ahead`) ahead of the collector, or when `duration_ms` or `clock_dropped` is out of range.',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Batch' } } },
        },
        responses: {
          '200': json({ $ref: '#/components/schemas/IngestResponse' }, 'Every event is stored'),
          '400': error('Not JSON, bad gzip, or not a batch'),
          '401': error('An ingest key is configured and the request has no valid one'),
          '413': error('Body too large (compressed or decompressed) or more than 5000 events'),
          '415': error('Content-Type is not application/json, or an unsupported Content-Encoding'),
          '421': common['421'],
          '422': json(
            { $ref: '#/components/schemas/IngestResponse' },
            'Some events were invalid: they are listed in `rejected`; the valid ones are stored',
          ),
          '503': error(
            'Storage failed or is restarting, or too many bodies are being decompressed: nothing of the batch is guaranteed stored, retry',
          ),
        },
      },
    },
    '/healthz': {
      get: {
        summary: 'Health: storage reachable, stored counts, analysis backlog (no key needed)',
        security: [],
        responses: {
          '200': json(
            {
              type: 'object',
              required: ['status', 'storage', 'counts', 'analysis'],
              properties: {
                status: { const: 'ok' },
                storage: { type: 'object' },
                counts: {
                  type: 'object',
                  properties: {
                    events: { type: 'integer' },
                    traces: { type: 'integer' },
                    races: { type: 'integer' },
                  },
                },
                analysis: { $ref: '#/components/schemas/AnalysisStatus' },
              },
            },
            'The collector and its storage work',
          ),
          '421': common['421'],
          '503': error(
            'The storage cannot be reached (`status: unavailable`, `storage.last_error` says why), or its writer is restarting (`status: restarting`)',
          ),
        },
      },
    },
    '/api/openapi.json': {
      get: {
        summary: 'This document',
        responses: { '200': json({ type: 'object' }, 'OpenAPI 3.1 document'), ...common },
      },
    },
    '/api/traces': {
      get: {
        summary: 'List traces, newest first',
        parameters: [
          textFilter('service', 'Only traces in which this service took part'),
          param('from', 'Only traces that started at or after this time', timeSchema),
          param('to', 'Only traces that started at or before this time', timeSchema),
          param('status', 'Only traces with (`error`) or without (`ok`) errors', {
            enum: ['error', 'ok'],
          }),
          param('has_races', 'Only traces with races (`true`) or without (`false`)', {
            type: 'boolean',
          }),
          limit(50, 500),
          cursor,
        ],
        responses: {
          '200': json(
            page('traces', { $ref: '#/components/schemas/TraceSummary' }),
            'One page of trace summaries',
          ),
          '400': badRequest,
          ...common,
        },
      },
    },
    '/api/traces/{traceId}': {
      get: {
        summary: 'One trace: its summary and its spans as a tree, with their events and clocks',
        description:
          'Events are paged in storage order (event id), `limit` at a time (default 1000), each page shown as a span tree in time order; a page is also cut at 8 MiB of JSON. `next_cursor` fetches the next page, null on the last. Pages are built one at a time (503 `busy` when 256 wait).',
        parameters: [traceIdPath, limit(1000, 5000), cursor],
        responses: {
          '200': json(
            {
              allOf: [
                { $ref: '#/components/schemas/TraceSummary' },
                {
                  type: 'object',
                  required: ['spans', 'events_returned', 'next_cursor'],
                  properties: {
                    spans: { type: 'array', items: { $ref: '#/components/schemas/Span' } },
                    events_returned: { type: 'integer', minimum: 0 },
                    next_cursor: { type: ['string', 'null'] },
                  },
                },
              ],
            },
            'The trace (one page of its events)',
          ),
          '400': badRequest,
          '404': traceNotFound,
          ...common,
        },
      },
    },
    '/api/traces/{traceId}/critical-path': {
      get: {
        summary: "The trace's critical path with time attributed per service",
        parameters: [traceIdPath],
        responses: {
          '200': json(
            {
              type: 'object',
              required: [...analysisHeadRequired, 'critical_path'],
              properties: { ...analysisHead, critical_path: { type: ['object', 'null'] } },
            },
            'The critical path (null until the trace is analysed, or when it has no span)',
          ),
          '400': badRequest,
          '404': traceNotFound,
          ...common,
        },
      },
    },
    '/api/traces/{traceId}/races': {
      get: {
        summary: 'Race groups involving this trace: intra-trace and cross-trace',
        parameters: [traceIdPath],
        responses: {
          '200': json(
            {
              type: 'object',
              required: [...analysisHeadRequired, 'races', 'truncated'],
              properties: {
                ...analysisHead,
                races: { type: 'array', items: { $ref: '#/components/schemas/Race' } },
                truncated: {
                  type: 'boolean',
                  description: 'More groups exist than one answer holds (1000, or 8 MiB)',
                },
              },
            },
            'The race groups found so far',
          ),
          '400': badRequest,
          '404': traceNotFound,
          ...common,
        },
      },
    },
    '/api/traces/{traceId}/diagnostics': {
      get: {
        summary:
          'Broken chains, clock skew, error propagation, slow services and analysis limits of this trace',
        parameters: [traceIdPath],
        responses: {
          '200': json(
            {
              type: 'object',
              required: [...analysisHeadRequired, 'diagnostics'],
              properties: { ...analysisHead, diagnostics: { type: ['object', 'null'] } },
            },
            'The diagnostics (null until the trace is analysed)',
          ),
          '400': badRequest,
          '404': traceNotFound,
          ...common,
        },
      },
    },
    '/api/races': {
      get: {
        summary: 'Race groups across all traces, newest first',
        parameters: [
          textFilter('resource', 'Only races on this resource'),
          textFilter('service', 'Only races involving this service'),
          param('scope', 'Only intra-trace (`trace`) or cross-trace (`cross`) races', {
            enum: ['trace', 'cross'],
          }),
          param('trace_id', 'Only races involving this trace', traceIdPath.schema),
          from,
          to,
          limit(100, 1000),
          cursor,
        ],
        responses: {
          '200': json(
            page('races', { $ref: '#/components/schemas/Race' }),
            'One page of race groups',
          ),
          '400': badRequest,
          ...common,
        },
      },
    },
    '/api/diagnostics': {
      get: {
        summary: 'Traces with diagnostics, newest first',
        parameters: [from, to, limit(50, 500), cursor],
        responses: {
          '200': json(
            page('traces', {
              allOf: [
                { $ref: '#/components/schemas/TraceSummary' },
                {
                  type: 'object',
                  required: ['diagnostic_count', 'diagnostics'],
                  properties: {
                    diagnostic_count: { type: 'integer' },
                    diagnostics: { type: ['object', 'null'] },
                  },
                },
              ],
            }),
            'One page of traces with their diagnostics',
          ),
          '400': badRequest,
          ...common,
        },
      },
    },
    '/api/services': {
      get: {
        summary: 'Per service: request count, error rate, p50/p95/p99 latency over a time range',
        parameters: [
          param('from', 'Start of the range (default: one hour before `to`)', timeSchema),
          param('to', 'End of the range (default: now)', timeSchema),
        ],
        responses: {
          '200': json(
            {
              type: 'object',
              required: ['from', 'to', 'services'],
              properties: {
                from: dateTime,
                to: dateTime,
                services: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['service', 'requests', 'errors', 'errorRate', 'latencyMs', 'sdks'],
                    properties: {
                      service: { type: 'string' },
                      instances: { type: 'integer' },
                      requests: { type: 'integer', minimum: 0 },
                      errors: { type: 'integer', minimum: 0 },
                      errorRate: { type: 'number', minimum: 0, maximum: 1 },
                      latencyMs: { $ref: '#/components/schemas/Latency' },
                      requestsPerSecond: { type: ['number', 'null'] },
                      sdks: {
                        type: 'array',
                        description:
                          "The SDKs the service's batches named (`sdk` of spec/schemas/batch.schema.json), most recently seen first: learnt from the batches this collector process received, so empty for a service not heard from since the collector started",
                        items: {
                          type: 'object',
                          required: ['name', 'version', 'language', 'instances', 'last_seen'],
                          additionalProperties: false,
                          properties: {
                            name: { type: 'string' },
                            version: { type: 'string' },
                            language: { type: ['string', 'null'] },
                            instances: { type: 'integer', minimum: 0 },
                            last_seen: dateTime,
                          },
                        },
                      },
                    },
                  },
                },
                events_considered: { type: 'integer' },
                truncated: { type: 'boolean' },
              },
            },
            'Service metrics',
          ),
          '400': badRequest,
          ...common,
        },
      },
    },
    '/api/dependencies': {
      get: {
        summary:
          'Which service calls which: nodes and edges with call counts, error counts and p50/p95/p99; calls to uninstrumented peers end at nodes flagged `uninstrumented`',
        parameters: [
          param('from', 'Start of the range (default: one hour before `to`)', timeSchema),
          param('to', 'End of the range (default: now)', timeSchema),
        ],
        responses: {
          '200': json(
            {
              type: 'object',
              required: ['from', 'to', 'nodes', 'edges'],
              properties: {
                from: dateTime,
                to: dateTime,
                nodes: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['name', 'uninstrumented'],
                    properties: { name: { type: 'string' }, uninstrumented: { type: 'boolean' } },
                  },
                },
                edges: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['from', 'to', 'calls', 'errors', 'errorRate', 'latencyMs'],
                    properties: {
                      from: { type: 'string' },
                      to: { type: 'string' },
                      calls: { type: 'integer', minimum: 0 },
                      errors: { type: 'integer', minimum: 0 },
                      errorRate: { type: 'number', minimum: 0, maximum: 1 },
                      unmatched: { type: 'integer', minimum: 0 },
                      latencyMs: { $ref: '#/components/schemas/Latency' },
                    },
                  },
                },
                events_considered: { type: 'integer' },
                truncated: { type: 'boolean' },
              },
            },
            'The dependency graph',
          ),
          '400': badRequest,
          ...common,
        },
      },
    },
    '/api/analysis/status': {
      get: {
        summary: 'What the background analysis still has to do',
        responses: {
          '200': json({ $ref: '#/components/schemas/AnalysisStatus' }, 'Scheduler status'),
          ...common,
        },
      },
    },
    '/api/analysis/run': {
      post: {
        summary:
          'Analyse every trace whose stored events are not analysed yet, now (without waiting for traces to be quiet), and answer when done. No body. For tests, demos and scripts that must read analysis results right after sending events.',
        responses: {
          '200': json({ $ref: '#/components/schemas/AnalysisStatus' }, 'Status after the run'),
          ...common,
        },
      },
    },
  },
} as const;
