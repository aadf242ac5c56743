import { promisify } from 'node:util';
import { constants, gzip } from 'node:zlib';
import pkg from '../../package.json' with { type: 'json' };
import type { RacewayEvent } from '../events.js';
import { eventToJSON } from '../recorded-event.js';

const gzipAsync = promisify(gzip);

/** Who sent a batch (the batch's `sdk` field). */
export interface SdkInfo {
  name: string;
  version: string;
  language: string;
}

/** The body of `POST /v1/events` (`spec/schemas/batch.schema.json`). */
export interface EventBatch {
  sdk?: SdkInfo;
  /** Events the SDK dropped since its previous delivered batch. */
  dropped?: number;
  events: RacewayEvent[];
}

/** This SDK, as batches name it. */
export const SDK_INFO: SdkInfo = Object.freeze({
  name: '@raceway/core',
  version: pkg.version,
  language: 'javascript',
});

// Event JSON is repetitive enough that the fastest level compresses a batch almost as well as
// the default (measured: 10.9 KB instead of 10.0 KB for 200 events) at two thirds of the CPU,
// and that CPU is taken from the traced application. A larger chunk means fewer round trips
// between the thread pool and the event loop (one per chunk) for a batch.
const GZIP_OPTIONS = { level: constants.Z_BEST_SPEED, chunkSize: 128 * 1024 };

const SDK_JSON = JSON.stringify(SDK_INFO);

/**
 * Events already encoded: the JSON text of `count` events, separated by commas, ready to go
 * between the brackets of a batch's `events` array.
 */
export interface EncodedEvents {
  readonly json: string;
  readonly count: number;
}

/** What {@link encodeEvents} made of a list of events. */
export interface EncodeResult {
  /** The events that could be encoded, or null when none could. */
  encoded: EncodedEvents | null;
  /** Events left out because JSON cannot represent them. */
  failed: number;
  /** Why the first of them failed. */
  error: string | null;
}

/**
 * Encodes events as JSON text. The transport does this as soon as a few dozen events have been
 * recorded and queues the text: the encoding cost comes in small steps (a backlog batch of 2000
 * events no longer holds the event loop for milliseconds while it is encoded), and a queued
 * event held as text takes less than half the heap of an event object
 * (bench/transport-memory.mjs: 375 instead of 895 bytes per event).
 *
 * An event that JSON cannot represent (an application value with a cycle or a BigInt that got
 * past the recorder) is left out and counted, and the others are kept. Never throws.
 */
export function encodeEvents(events: readonly RacewayEvent[]): EncodeResult {
  const parts: string[] = [];
  let error: string | null = null;
  for (const event of events) {
    try {
      parts.push(eventToJSON(event));
    } catch (cause) {
      error ??= cause instanceof Error ? cause.message : String(cause);
    }
  }
  return {
    encoded: parts.length === 0 ? null : { json: parts.join(','), count: parts.length },
    failed: events.length - parts.length,
    error,
  };
}

/** Bodies below this size are sent as they are: compressing them saves too little. */
const COMPRESS_MIN_BYTES = 1024;

/** How batch bodies travel: `auto` compresses unless the collector is on this host. */
export type Compression = 'auto' | 'gzip' | 'none';

/** A batch body ready to POST. */
export interface BatchBody {
  readonly bytes: Buffer;
  readonly gzip: boolean;
}

/**
 * True when `auto` compression should gzip for this endpoint: not for a collector on loopback,
 * where bytes cost nothing and gzip would take CPU from the traced application (measured in
 * bench/http-overhead.mjs: a quarter of what the SDK costs per request at full recording).
 */
export function compressesFor(endpoint: URL, compression: Compression): boolean {
  if (compression !== 'auto') return compression === 'gzip';
  return !isLoopbackHost(endpoint.hostname);
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

/**
 * A batch as sent (`spec/schemas/batch.schema.json`): the encoded events inside the batch
 * object, gzip-compressed on the libuv thread pool (so that compression never holds up the
 * event loop) when `gzip` is true and the body is large enough to gain from it.
 */
export async function encodeBatch(
  events: readonly EncodedEvents[],
  dropped: number,
  gzip = true,
): Promise<BatchBody> {
  let json = `{"sdk":${SDK_JSON},"dropped":${dropped},"events":[`;
  for (let i = 0; i < events.length; i++) {
    if (i > 0) json += ',';
    json += (events[i] as EncodedEvents).json;
  }
  json += ']}';
  const raw = Buffer.from(json, 'utf8');
  if (!gzip || raw.length < COMPRESS_MIN_BYTES) return { bytes: raw, gzip: false };
  return { bytes: await gzipAsync(raw, GZIP_OPTIONS), gzip: true };
}
