import { gunzip } from 'node:zlib';
import type { ConcurrencyGate } from '../concurrency-gate.js';
import { HttpError } from '../errors.js';

export interface BodyLimits {
  /** Largest body accepted as received (compressed or not), in bytes. */
  maxBodyBytes: number;
  /** Largest body accepted after gzip decompression, in bytes: the gzip-bomb guard. */
  maxDecompressedBytes: number;
  /** Bounds how many bodies are decompressed at once (memory: slots x maxDecompressedBytes). */
  gate?: ConcurrencyGate;
}

/**
 * Turns a received body into JSON: gunzips it when `Content-Encoding: gzip` (never past
 * `maxDecompressedBytes`), then parses it. Every failure is an {@link HttpError} whose message
 * says what to fix.
 */
export async function decodeBody(
  raw: Buffer,
  contentEncoding: string | undefined,
  limits: BodyLimits,
): Promise<unknown> {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  let text: Buffer;
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    const gunzip = () => gunzipLimited(raw, limits.maxDecompressedBytes);
    text = await (limits.gate ? limits.gate.run(gunzip) : gunzip());
  } else if (encoding === 'identity' || encoding === '') {
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

function gunzipLimited(raw: Buffer, maxOutputLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(raw, { maxOutputLength }, (error, result) => {
      if (!error) return resolve(result);
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        reject(
          new HttpError(
            413,
            'payload_too_large',
            `the gzip body expands beyond ${formatBytes(maxOutputLength)}: send smaller batches`,
            { limit_bytes: maxOutputLength },
          ),
        );
      } else {
        reject(
          new HttpError(
            400,
            'invalid_gzip',
            `the body is not valid gzip (${error.message}): compress the whole JSON body with gzip, or drop the Content-Encoding header`,
          ),
        );
      }
    });
  });
}

/** `5 MiB`, `512 KiB`, `100 bytes`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
