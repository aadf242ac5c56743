import batchSchema from '../schemas/batch.schema.json' with { type: 'json' };
import ingestResponseSchema from '../schemas/ingest-response.schema.json' with { type: 'json' };

// The OpenAPI 3.1 description of every route, served at /api/openapi.json. A test walks the
// routes Fastify registered and fails if one is missing here.

const json = (schema: object, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

const error = (description: string) => json({ $ref: '#/components/schemas/Error' }, description);

const traceIdPath = {
  name: 'traceId',
  in: 'path',
  required: true,
  description: '32 hex digits (a dashed UUID is accepted and normalised)',
  schema: { type: 'string' },
};

const param = (name: string, description: string, schema: object = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

const from = param('from', 'Start of the time range: ISO 8601 date-time or epoch milliseconds');
const to = param('to', 'End of the time range: ISO 8601 date-time or epoch milliseconds');
const cursor = param('cursor', 'The `next_cursor` of the previous page, unchanged');
const limit = (fallback: number, max: number) =>
  param('limit', `Page size (default ${fallback})`, { type: 'integer', minimum: 1, maximum: max });

const analysisHead = {
  trace_id: { type: 'string' },
  analysis: {
    enum: ['done', 'pending'],
    description: '`pending` while events arrived after the last analysis (see /api/analysis/run)',
  },
  analyzed_at: { type: ['string', 'null'], format: 'date-time' },
};

const traceNotFound = error('No trace with this id is stored');
const badRequest = error('A parameter is malformed; `message` says which and how to fix it');

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Raceway collector',
    version: '1',
    description:
      'Ingestion (`POST /v1/events`, spec/README.md section 4) and the query API of the Raceway collector. Errors are always JSON `{error, message, ...}`.',
  },
  components: {
    securitySchemes: {
      apiKey: {
        type: 'http',
        scheme: 'bearer',
        description: 'Required on /v1/events when the collector is started with --api-key',
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
      Batch: batchSchema,
      IngestResponse: ingestResponseSchema,
      TraceSummary: {
        type: 'object',
        properties: {
          trace_id: { type: 'string' },
          root_service: { type: ['string', 'null'] },
          root_method: { type: ['string', 'null'] },
          root_route: { type: ['string', 'null'] },
          start_us: { type: 'integer' },
          started_at: { type: 'string', format: 'date-time' },
          end_us: { type: 'integer' },
          duration_ms: { type: 'number' },
          services: { type: 'array', items: { type: 'string' } },
          span_count: { type: 'integer' },
          event_count: { type: 'integer' },
          error_count: { type: 'integer' },
          race_count: { type: 'integer' },
          status: { enum: ['ok', 'error'] },
          analysis: { enum: ['done', 'pending'] },
        },
      },
      Span: {
        type: 'object',
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
          start: { type: 'string', format: 'date-time' },
          duration_ms: { type: 'number' },
          events: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                kind: { type: 'string' },
                ts_us: { type: 'integer' },
                component: { type: 'string' },
                clock: { type: 'object', additionalProperties: { type: 'integer' } },
                clock_dropped: { type: 'integer' },
                data: { type: 'object' },
              },
            },
          },
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
        properties: {
          pending_traces: { type: 'integer' },
          pending_resources: { type: 'integer' },
          running: { type: 'boolean' },
          traces_analyzed: { type: 'integer' },
          cross_trace_passes: { type: 'integer' },
          failures: { type: 'integer' },
          last_run_at: { type: ['string', 'null'], format: 'date-time' },
          delay_ms: { type: 'number' },
        },
      },
    },
  },
  paths: {
    '/v1/events': {
      post: {
        summary: 'Ingest a batch of events',
        description:
          'Body: a JSON batch (spec/schemas/batch.schema.json), optionally `Content-Encoding: gzip`. At most 5 MiB as received, 20 MiB decompressed, 5000 events. Answered only after the stored events are durable. Idempotent on event id. A batch mixing valid and invalid events: the valid ones are stored, the answer is 422 listing the rejected ones.',
        security: [{}, { apiKey: [] }],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Batch' } } },
        },
        responses: {
          '200': json({ $ref: '#/components/schemas/IngestResponse' }, 'Every event is stored'),
          '400': error('Not JSON, bad gzip, or not a batch'),
          '401': error('API key missing or wrong'),
          '413': error('Body too large (compressed or decompressed) or more than 5000 events'),
          '415': error('Content-Type is not application/json, or an unsupported Content-Encoding'),
          '422': json(
            { $ref: '#/components/schemas/IngestResponse' },
            'Some events were invalid: they are listed in `rejected`; the valid ones are stored',
          ),
        },
      },
    },
    '/healthz': {
      get: {
        summary: 'Health: storage reachable, stored counts, analysis backlog',
        responses: {
          '200': json({ type: 'object' }, 'The collector and its storage work'),
          '503': error('The storage cannot be reached'),
        },
      },
    },
    '/api/openapi.json': {
      get: {
        summary: 'This document',
        responses: { '200': json({ type: 'object' }, 'OpenAPI 3.1 document') },
      },
    },
    '/api/traces': {
      get: {
        summary: 'List traces, newest first',
        parameters: [
          param('service', 'Only traces in which this service took part'),
          param('from', 'Only traces that started at or after this time (ISO 8601 or epoch ms)'),
          param('to', 'Only traces that started at or before this time (ISO 8601 or epoch ms)'),
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
            {
              type: 'object',
              properties: {
                traces: { type: 'array', items: { $ref: '#/components/schemas/TraceSummary' } },
                next_cursor: { type: ['string', 'null'] },
              },
            },
            'One page of trace summaries',
          ),
          '400': badRequest,
        },
      },
    },
    '/api/traces/{traceId}': {
      get: {
        summary: 'One trace: its summary and its spans as a tree, with their events and clocks',
        parameters: [traceIdPath],
        responses: {
          '200': json(
            {
              allOf: [
                { $ref: '#/components/schemas/TraceSummary' },
                {
                  type: 'object',
                  properties: {
                    spans: { type: 'array', items: { $ref: '#/components/schemas/Span' } },
                  },
                },
              ],
            },
            'The trace',
          ),
          '400': badRequest,
          '404': traceNotFound,
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
              properties: { ...analysisHead, critical_path: { type: ['object', 'null'] } },
            },
            'The critical path (null until the trace is analysed)',
          ),
          '400': badRequest,
          '404': traceNotFound,
        },
      },
    },
    '/api/traces/{traceId}/races': {
      get: {
        summary: 'Races involving this trace: intra-trace and cross-trace',
        parameters: [traceIdPath],
        responses: {
          '200': json(
            {
              type: 'object',
              properties: {
                ...analysisHead,
                races: { type: 'array', items: { $ref: '#/components/schemas/Race' } },
              },
            },
            'The races found so far',
          ),
          '400': badRequest,
          '404': traceNotFound,
        },
      },
    },
    '/api/traces/{traceId}/diagnostics': {
      get: {
        summary: 'Broken chains, clock skew, error propagation and slow services in this trace',
        parameters: [traceIdPath],
        responses: {
          '200': json(
            {
              type: 'object',
              properties: { ...analysisHead, diagnostics: { type: ['object', 'null'] } },
            },
            'The diagnostics (null until the trace is analysed)',
          ),
          '400': badRequest,
          '404': traceNotFound,
        },
      },
    },
    '/api/races': {
      get: {
        summary: 'Races across all traces, newest first',
        parameters: [
          param('resource', 'Only races on this resource'),
          param('service', 'Only races involving this service'),
          param('scope', 'Only intra-trace (`trace`) or cross-trace (`cross`) races', {
            enum: ['trace', 'cross'],
          }),
          param('trace_id', 'Only races involving this trace'),
          from,
          to,
          limit(100, 1000),
          cursor,
        ],
        responses: {
          '200': json(
            {
              type: 'object',
              properties: {
                races: { type: 'array', items: { $ref: '#/components/schemas/Race' } },
                next_cursor: { type: ['string', 'null'] },
              },
            },
            'One page of races',
          ),
          '400': badRequest,
        },
      },
    },
    '/api/diagnostics': {
      get: {
        summary: 'Traces with diagnostics, newest first',
        parameters: [from, to, limit(50, 500), cursor],
        responses: {
          '200': json(
            {
              type: 'object',
              properties: {
                traces: { type: 'array', items: { type: 'object' } },
                next_cursor: { type: ['string', 'null'] },
              },
            },
            'One page of traces with their diagnostics',
          ),
          '400': badRequest,
        },
      },
    },
    '/api/services': {
      get: {
        summary: 'Per service: request count, error rate, p50/p95/p99 latency over a time range',
        parameters: [
          param('from', 'Start of the range (default: one hour before `to`)'),
          param('to', 'End of the range (default: now)'),
        ],
        responses: {
          '200': json(
            {
              type: 'object',
              properties: {
                from: { type: 'string' },
                to: { type: 'string' },
                services: { type: 'array', items: { type: 'object' } },
                events_considered: { type: 'integer' },
                truncated: { type: 'boolean' },
              },
            },
            'Service metrics',
          ),
          '400': badRequest,
        },
      },
    },
    '/api/dependencies': {
      get: {
        summary:
          'Which service calls which: nodes and edges with call counts, error counts and p50/p95/p99; calls to uninstrumented peers end at nodes flagged `uninstrumented`',
        parameters: [
          param('from', 'Start of the range (default: one hour before `to`)'),
          param('to', 'End of the range (default: now)'),
        ],
        responses: {
          '200': json(
            {
              type: 'object',
              properties: {
                from: { type: 'string' },
                to: { type: 'string' },
                nodes: { type: 'array', items: { type: 'object' } },
                edges: { type: 'array', items: { type: 'object' } },
                events_considered: { type: 'integer' },
                truncated: { type: 'boolean' },
              },
            },
            'The dependency graph',
          ),
          '400': badRequest,
        },
      },
    },
    '/api/analysis/status': {
      get: {
        summary: 'What the background analysis still has to do',
        responses: {
          '200': json({ $ref: '#/components/schemas/AnalysisStatus' }, 'Scheduler status'),
        },
      },
    },
    '/api/analysis/run': {
      post: {
        summary:
          'Analyse everything stored so far now (without waiting for traces to be quiet) and answer when done. No body. For tests, demos and scripts that must read analysis results right after sending events.',
        responses: {
          '200': json({ $ref: '#/components/schemas/AnalysisStatus' }, 'Status after the run'),
        },
      },
    },
  },
} as const;
