import { createGunzip } from 'node:zlib';
import { ConcurrencyGate } from '../concurrency-gate.js';
import { HttpError } from '../errors.js';
import { JsonDepthScanner } from './json-depth.js';

/**
 * Deepest nesting of a whole body. Events deeper than the event limit (32) are refused one by
 * one (a 422 that keeps their neighbours); a body nested beyond this is no batch an SDK sends,
 * and is refused before it is parsed.
 */
export const MAX_BODY_DEPTH = 256;

export interface BodyLimits {
  /** Largest body accepted as received (compressed or not), in bytes. */
  maxBodyBytes: number;
  /** Largest body accepted after gzip decompression, in bytes: the gzip-bomb guard. */
  maxDecompressedBytes: number;
  /** Bounds how many bodies are decompressed at once (memory: slots x maxDecompressedBytes). */
  gate?: ConcurrencyGate;
  /** Deepest nesting of the body, checked before parsing (default MAX_BODY_DEPTH). */
  maxDepth?: number;
}

/**
 * The limits of an ingestion route: `maxConcurrentDecompressions` bodies (default 4) are
 * decompressed at once, and 16 times as many wait for a slot before the route answers 503.
 */
export function bodyLimits(
  options: Omit<BodyLimits, 'gate'> & { maxConcurrentDecompressions?: number },
): BodyLimits {
  const slots = options.maxConcurrentDecompressions ?? 4;
  return {
    ...options,
    gate: new ConcurrencyGate(slots, slots * 16, 'gzip bodies are being decompressed'),
  };
}

/**
 * Turns a received body into JSON: gunzips it when `Content-Encoding: gzip` (never past
 * `maxDecompressedBytes`), checks its nesting as the bytes come (see JsonDepthScanner), then
 * parses it. Every failure is an {@link HttpError} whose message says what to fix.
 */
export async function decodeBody(
  raw: Buffer,
  contentEncoding: string | undefined,
  limits: BodyLimits,
): Promise<unknown> {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  const depth = new JsonDepthScanner(limits.maxDepth ?? MAX_BODY_DEPTH);
  let text: Buffer;
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    const gunzip = () => gunzipChecked(raw, limits.maxDecompressedBytes, depth);
    text = await (limits.gate ? limits.gate.run(gunzip) : gunzip());
  } else if (encoding === 'identity' || encoding === '') {
    depth.feed(raw);
    text = raw;
  } else {
    throw new HttpError(
      415,
      'unsupported_media_type',
      `Content-Encoding "${contentEncoding}" is not supported: send the batch as is or with Content-Encoding: gzip`,
    );
  }
  if (text.length === 0) {
    throw new HttpError(
      400,
      'bad_request',
      'the body is empty: send a JSON batch {"events": [...]}',
    );
  }
  try {
    return JSON.parse(text.toString('utf8'));
  } catch (error) {
    throw new HttpError(
      400,
      'invalid_json',
      `the body is not valid JSON (${(error as Error).message}): send a JSON batch {"events": [...]}`,
    );
  }
}

/**
 * The bytes of a body that is not JSON (OTLP protobuf): gunzipped when `Content-Encoding:
 * gzip`, never past `maxDecompressedBytes`; 415 for any other encoding.
 */
export async function inflateBody(
  raw: Buffer,
  contentEncoding: string | undefined,
  limits: BodyLimits,
): Promise<Buffer> {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return raw;
  if (encoding !== 'gzip' && encoding !== 'x-gzip') {
    throw new HttpError(
      415,
      'unsupported_media_type',
      `Content-Encoding "${contentEncoding}" is not supported: send the body as is or with Content-Encoding: gzip`,
    );
  }
  const gunzip = () => gunzipChecked(raw, limits.maxDecompressedBytes, null);
  return limits.gate ? limits.gate.run(gunzip) : gunzip();
}

/**
 * Gunzips `raw` chunk by chunk, feeding each chunk to the depth scanner (when given): a body
 * that expands too far or nests too deep is stopped at the chunk that shows it, before the
 * rest is inflated.
 */
function gunzipChecked(
  raw: Buffer,
  maxOutputLength: number,
  depth: JsonDepthScanner | null,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let length = 0;
    let failed = false;
    const fail = (error: HttpError) => {
      failed = true;
      gunzip.destroy();
      reject(error);
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (failed) return;
      length += chunk.length;
      if (length > maxOutputLength) {
        fail(
          new HttpError(
            413,
            'payload_too_large',
            `the gzip body expands beyond ${formatBytes(maxOutputLength)}: send smaller batches`,
            { limit_bytes: maxOutputLength },
          ),
        );
        return;
      }
      try {
        depth?.feed(chunk);
      } catch (error) {
        fail(error as HttpError);
        return;
      }
      chunks.push(chunk);
    });
    gunzip.on('end', () => resolve(Buffer.concat(chunks, length)));
    gunzip.on('error', (error) =>
      fail(
        new HttpError(
          400,
          'invalid_gzip',
          `the body is not valid gzip (${error.message}): compress the whole JSON body with gzip, or drop the Content-Encoding header`,
        ),
      ),
    );
    gunzip.end(raw);
  });
}

/** `5 MiB`, `512 KiB`, `100 bytes`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
