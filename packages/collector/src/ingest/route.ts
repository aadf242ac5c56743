import type { FastifyInstance } from 'fastify';
import { ingestRoute } from '../api/schemas/routes.js';
import { HttpError } from '../errors.js';
import type { StoredEvent } from '../event.js';
import type { Storage } from '../storage/types.js';
import { checkApiKey } from './api-key.js';
import { type BodyLimits, bodyLimits, decodeBody } from './body.js';
import {
  checkEventLimits,
  type EventLimits,
  holdsUnstorable,
  MAX_BATCH_DROPPED,
} from './limits.js';
import type { SdkIdentity } from './sdk-registry.js';
import type { Validators } from './validate.js';

/** Largest batch the contract allows (spec/schemas/batch.schema.json `maxItems`). */
export const MAX_EVENTS_PER_BATCH = 5000;

export interface IngestOptions extends BodyLimits {
  storage: Storage;
  validators: Validators;
  /** Limits beyond the schema (depth, size, clock, counters). */
  eventLimits: EventLimits;
  /** Most gzip bodies decompressed at once (default 4); a few times that many may wait. */
  maxConcurrentDecompressions?: number;
  apiKeys: string[];
  /** Told about every newly stored event after its batch committed. */
  onStored(events: StoredEvent[]): void;
  /**
   * Told the SDK a batch names (absent when it names none) and its valid events, stored now or
   * before (a retried batch), after the batch committed.
   */
  onSdk(sdk: SdkIdentity | undefined, events: StoredEvent[]): void;
  /** Told the SDK-reported drop count of every accepted batch. */
  onDropped(count: number): void;
  /** Told what became of each batch's events (for the metrics). */
  onCounted?(counts: { accepted: number; duplicates: number; rejected: number }): void;
}

interface Rejected {
  index: number;
  id: string | null;
  errors: string[];
}

/**
 * `POST /v1/events`: the ingestion endpoint of spec/README.md section 4.1.
 *
 * Policy for a batch that mixes valid and invalid events: the valid ones are stored and the
 * answer is 422 listing the rejected ones (index, id, errors). The SDK counts those as dropped
 * and does not retry, so nothing valid is lost and nothing is stored twice.
 */
export async function ingestRoutes(app: FastifyInstance, options: IngestOptions): Promise<void> {
  const { storage, validators, apiKeys } = options;
  const limits = bodyLimits(options);

  // This scope parses bodies itself: raw bytes up to maxBodyBytes, then gunzip and JSON.
  app.removeAllContentTypeParsers();
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
            `charset "${charset}" is not accepted: JSON is UTF-8 (RFC 8259); send Content-Type: application/json or application/json; charset=utf-8`,
          ),
          undefined,
        );
        return;
      }
      decodeBody(body as Buffer, request.headers['content-encoding'], limits).then(
        (value) => done(null, value),
        (error: Error) => done(error, undefined),
      );
    },
  );

  app.addHook('onRequest', async (request) => {
    checkApiKey(apiKeys, request.headers.authorization);
  });

  // The schema declares the answers (and /api/openapi.json the body): the body is parsed and
  // checked here (gzip, limits, the contract's schemas event by event).
  const route = { schema: ingestRoute, config: { access: 'ingest' as const } };
  app.post('/v1/events', route, async (request, reply) => {
    if (request.body === undefined) {
      throw new HttpError(
        415,
        'unsupported_media_type',
        'POST /v1/events takes a JSON batch: send Content-Type: application/json',
      );
    }
    const events = readEnvelope(request.body, validators);
    const valid: StoredEvent[] = [];
    const rejected: Rejected[] = [];
    const nowMs = Date.now();
    events.forEach((event, index) => {
      const errors =
        validators.event(event) ??
        reservedComponent(event as StoredEvent) ??
        checkEventLimits(event as Record<string, unknown>, options.eventLimits, nowMs);
      if (errors) {
        const id = (event as { id?: unknown } | null)?.id;
        rejected.push({ index, id: typeof id === 'string' ? id : null, errors });
      } else {
        valid.push(event as StoredEvent);
      }
    });
    // Answered only once the transaction is committed: an acknowledged event is durable.
    const result =
      valid.length > 0
        ? await storage.insertEvents(valid)
        : { accepted: 0, duplicates: 0, inserted: [] };
    if (result.inserted.length > 0) options.onStored(result.inserted);
    // The schema has checked the envelope: `sdk`, when there, has a name and a version.
    if (valid.length > 0) options.onSdk((request.body as { sdk?: SdkIdentity }).sdk, valid);
    const dropped = (request.body as { dropped?: unknown }).dropped;
    if (typeof dropped === 'number' && dropped > 0) options.onDropped(dropped);
    const answer = { accepted: result.accepted, duplicates: result.duplicates };
    options.onCounted?.({ ...answer, rejected: rejected.length });
    if (rejected.length === 0) return reply.code(200).send(answer);
    return reply.code(422).send({
      error: 'invalid_events',
      message: `${rejected.length} of ${events.length} events are invalid and were not stored; the other ${valid.length} are stored. Fix the events listed in "rejected"; do not resend the batch.`,
      ...answer,
      rejected,
    });
  });
}

/** The `charset` parameter of a Content-Type, lower case and unquoted, or null when absent. */
export function charsetOf(contentType: string | undefined): string | null {
  const match = /;\s*charset\s*=\s*("([^"]*)"|[^;\s]*)/i.exec(contentType ?? '');
  if (!match) return null;
  return (match[2] ?? match[1] ?? '').trim().toLowerCase();
}

/** Checks the batch envelope and returns its events; throws 400/413 when the batch is unusable. */
function readEnvelope(body: unknown, validators: Validators): unknown[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(
      400,
      'invalid_batch',
      'the body must be a JSON object {"events": [...]}, see spec/schemas/batch.schema.json',
    );
  }
  const events = (body as { events?: unknown }).events;
  if (Array.isArray(events) && events.length > MAX_EVENTS_PER_BATCH) {
    throw new HttpError(
      413,
      'too_many_events',
      `the batch holds ${events.length} events; at most ${MAX_EVENTS_PER_BATCH} are accepted per batch: split it`,
      { limit_events: MAX_EVENTS_PER_BATCH },
    );
  }
  const dropped = (body as { dropped?: unknown }).dropped;
  if (typeof dropped === 'number' && dropped > MAX_BATCH_DROPPED) {
    throw new HttpError(
      400,
      'invalid_batch',
      `"dropped" is ${dropped}: no SDK drops more than ${MAX_BATCH_DROPPED} events between two batches; send the count of events dropped since the previous batch`,
    );
  }
  const sdk = (body as { sdk?: unknown }).sdk;
  if (sdk !== undefined && holdsUnstorable(sdk)) {
    throw new HttpError(
      400,
      'invalid_batch',
      '"sdk" holds U+0000 or an unpaired surrogate: send well-formed Unicode without NUL',
    );
  }
  // Items that are not objects are reported one by one (422), not as a broken batch.
  const errors = (validators.batch(body) ?? []).filter((e) => !/^\/events\/\d+/.test(e));
  if (errors.length > 0 || !Array.isArray(events)) {
    throw new HttpError(
      400,
      'invalid_batch',
      `the batch does not match spec/schemas/batch.schema.json: ${errors.join('; ')}`,
      { errors },
    );
  }
  return events;
}

/**
 * The component prefix `otel:` names the contexts of spans received over OTLP, whose clocks the
 * collector infers (spec 3.1): an event sent as an SDK's that used it would be mistaken for one.
 */
function reservedComponent(event: StoredEvent): string[] | null {
  return event.component.startsWith('otel:')
    ? [
        '/component starts with otel:, which names the spans received over OTLP (spec 3.1); an SDK names its contexts <service>#<8 hex>',
      ]
    : null;
}
