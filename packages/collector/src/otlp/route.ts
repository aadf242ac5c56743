import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorAnswer } from '../api/schemas/common.js';
import { HttpError } from '../errors.js';
import type { StoredEvent } from '../event.js';
import { checkApiKey } from '../ingest/api-key.js';
import { type BodyLimits, bodyLimits, decodeBody, inflateBody } from '../ingest/body.js';
import { checkEventLimits, type EventLimits } from '../ingest/limits.js';
import { charsetOf } from '../ingest/route.js';
import type { SdkIdentity } from '../ingest/sdk-registry.js';
import type { Validators } from '../ingest/validate.js';
import type { Storage } from '../storage/types.js';
import { decodeExportRequest, encodeExportResponse } from './proto.js';
import { type Attributes, type IdEncoding, readExportRequest } from './read-request.js';
import { printable, spanToEvents } from './span-events.js';

/** Most spans taken in one request (the OpenTelemetry SDKs export 512 at a time by default). */
export const MAX_SPANS_PER_REQUEST = 5000;

export interface OtlpIngestOptions extends BodyLimits {
  storage: Storage;
  validators: Validators;
  eventLimits: EventLimits;
  apiKeys: string[];
  maxConcurrentDecompressions?: number;
  /** The services' digest key, for the digests of database span parameters. */
  digestKey?: string | undefined;
  /** Told about every newly stored event after its request committed. */
  onStored(events: StoredEvent[]): void;
  /**
   * Told the OpenTelemetry SDK of each resource (`telemetry.sdk.*`, absent when it names none)
   * and its stored events, as `POST /v1/events` tells the SDK a batch names.
   */
  onSdk?(sdk: SdkIdentity | undefined, events: StoredEvent[]): void;
}

interface ParsedRequest {
  format: 'protobuf' | 'json';
  request: unknown;
}

const PartialSuccess = Type.Object(
  {
    rejectedSpans: Type.Integer({ minimum: 0 }),
    errorMessage: Type.String(),
  },
  { additionalProperties: false },
);

/** OpenAPI of `POST /v1/traces` (the JSON side; protobuf answers are ExportTraceServiceResponse). */
export const otlpTracesRoute = {
  summary: 'Ingest OpenTelemetry spans (OTLP/HTTP)',
  description:
    'Body: an OTLP ExportTraceServiceRequest as `application/x-protobuf` or `application/json` (OTLP/JSON: ids in hex), optionally `Content-Encoding: gzip`; the answer is an ExportTraceServiceResponse in the same encoding. The same key, limits and durability as `POST /v1/events`: at most 5 MiB as received, 20 MiB decompressed, 5000 spans; answered once the spans are stored. Spans that cannot be stored (malformed ids, timestamps beyond the limits) are counted in `partialSuccess.rejectedSpans` of a 200 answer, as OTLP asks; the others are stored. Idempotent: a span sent again is stored once.',
  tags: ['ingest'],
  response: {
    200: Type.Object(
      { partialSuccess: Type.Optional(PartialSuccess) },
      { description: 'The spans are stored (but those counted in `partialSuccess`)' },
    ),
    400: ErrorAnswer('Not an ExportTraceServiceRequest (bad protobuf or JSON), or bad gzip'),
    401: ErrorAnswer('An ingest key is configured and the request has no valid one'),
    413: ErrorAnswer('Body too large (compressed or decompressed) or more than 5000 spans'),
    415: ErrorAnswer(
      'Content-Type is neither application/x-protobuf nor application/json, or an unsupported Content-Encoding',
    ),
    421: ErrorAnswer('The collector listens on loopback and the Host header names another host'),
    503: ErrorAnswer(
      'Storage failed or is restarting, or too many bodies are being decompressed: nothing of the request is guaranteed stored, retry',
    ),
  },
} as const;

/**
 * `POST /v1/traces`: OTLP/HTTP trace ingestion. Spans become Raceway events of the same traces
 * (span-events.ts) and go through the same checks and storage as `POST /v1/events`; the
 * request is answered only once they are durable.
 */
export async function otlpIngestRoutes(
  app: FastifyInstance,
  options: OtlpIngestOptions,
): Promise<void> {
  const limits = bodyLimits(options);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/x-protobuf',
    { parseAs: 'buffer', bodyLimit: options.maxBodyBytes },
    (request, body, done) => {
      inflateBody(body as Buffer, request.headers['content-encoding'], limits)
        .then((bytes) => {
          try {
            done(null, { format: 'protobuf', request: decodeExportRequest(bytes) });
          } catch (error) {
            done(
              new HttpError(
                400,
                'invalid_protobuf',
                `the body is not an OTLP ExportTraceServiceRequest (${(error as Error).message})`,
              ),
              undefined,
            );
          }
        })
        .catch((error: Error) => done(error, undefined));
    },
  );
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: options.maxBodyBytes },
    (request, body, done) => {
      const charset = charsetOf(request.headers['content-type']);
      if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
        done(
          new HttpError(
            415,
            'unsupported_media_type',
            `charset "${charset}" is not accepted: OTLP/JSON is UTF-8`,
          ),
          undefined,
        );
        return;
      }
      if ((body as Buffer).length === 0) {
        done(
          new HttpError(400, 'bad_request', 'the body is empty: send an ExportTraceServiceRequest'),
          undefined,
        );
        return;
      }
      decodeBody(body as Buffer, request.headers['content-encoding'], limits).then(
        (value) => done(null, { format: 'json', request: value }),
        (error: Error) => done(error, undefined),
      );
    },
  );

  app.addHook('onRequest', async (request) => {
    checkApiKey(options.apiKeys, request.headers.authorization);
  });

  const route = { schema: otlpTracesRoute, config: { access: 'ingest' as const } };
  app.post('/v1/traces', route, async (request: FastifyRequest, reply) => {
    const parsed = request.body as ParsedRequest | undefined;
    if (parsed === undefined) {
      throw new HttpError(
        415,
        'unsupported_media_type',
        'POST /v1/traces takes an OTLP ExportTraceServiceRequest: send Content-Type: application/x-protobuf or application/json',
      );
    }
    const ids: IdEncoding = parsed.format === 'json' ? 'hex' : 'base64';
    let read: ReturnType<typeof readExportRequest>;
    try {
      read = readExportRequest(parsed.request, ids);
    } catch (error) {
      throw new HttpError(400, 'invalid_request', (error as Error).message);
    }
    if (read.spans.length + read.rejected > MAX_SPANS_PER_REQUEST) {
      throw new HttpError(
        413,
        'too_many_spans',
        `the request holds ${read.spans.length + read.rejected} spans; at most ${MAX_SPANS_PER_REQUEST} are accepted per request: export smaller batches`,
        { limit_spans: MAX_SPANS_PER_REQUEST },
      );
    }
    const nowMs = Date.now();
    const valid: StoredEvent[] = [];
    const byResource = new Map<Attributes, StoredEvent[]>();
    const reasons = [...read.reasons];
    let rejected = read.rejected;
    for (const span of read.spans) {
      const events = spanToEvents(span, { digestKey: options.digestKey });
      const errors = firstErrors(events, options, nowMs);
      if (errors === null) {
        valid.push(...events);
        const list = byResource.get(span.resource);
        if (list) list.push(...events);
        else byResource.set(span.resource, [...events]);
      } else {
        rejected++;
        if (reasons.length < 5) reasons.push(`span ${span.spanId}: ${errors.join('; ')}`);
      }
    }
    // Answered only once the transaction is committed: an acknowledged span is durable.
    const result =
      valid.length > 0
        ? await options.storage.insertEvents(valid)
        : { inserted: [] as StoredEvent[] };
    if (result.inserted.length > 0) options.onStored(result.inserted);
    for (const [resource, events] of byResource) options.onSdk?.(sdkOf(resource), events);
    const partial =
      rejected > 0 ? { rejectedSpans: rejected, errorMessage: reasons.join(' | ') } : undefined;
    if (parsed.format === 'protobuf') {
      return reply
        .code(200)
        .header('content-type', 'application/x-protobuf')
        .send(Buffer.from(encodeExportResponse(partial)));
    }
    return reply.code(200).send(partial ? { partialSuccess: partial } : {});
  });
}

/** The errors of the first event of a span that breaks the contract or the limits, or null. */
function firstErrors(
  events: StoredEvent[],
  options: OtlpIngestOptions,
  nowMs: number,
): string[] | null {
  for (const event of events) {
    const errors =
      options.validators.event(event) ??
      checkEventLimits(event as unknown as Record<string, unknown>, options.eventLimits, nowMs);
    if (errors) return errors;
  }
  return null;
}

/** The OpenTelemetry SDK a resource names (`telemetry.sdk.name` and `.version`), if any. */
function sdkOf(resource: Attributes): SdkIdentity | undefined {
  const name = resource['telemetry.sdk.name'];
  const version = resource['telemetry.sdk.version'];
  const language = resource['telemetry.sdk.language'];
  if (typeof name !== 'string' || typeof version !== 'string') return undefined;
  // The limits of the batch schema's `sdk`.
  const identity = { name: printable(name, 64), version: printable(version, 64) };
  if (identity.name === '' || identity.version === '') return undefined;
  const lang = typeof language === 'string' ? printable(language, 32) : '';
  return lang === '' ? identity : { ...identity, language: lang };
}
