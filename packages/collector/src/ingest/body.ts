import { gunzip } from 'node:zlib';
import { HttpError } from '../errors.js';

export interface BodyLimits {
  /** Largest body accepted as received (compressed or not), in bytes. */
  maxBodyBytes: number;
  /** Largest body accepted after gzip decompression, in bytes: the gzip-bomb guard. */
  maxDecompressedBytes: number;
  /** Bounds how many bodies are decompressed at once (memory: slots x maxDecompressedBytes). */
  gate?: DecompressionGate;
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

/**
 * Bounds the memory of concurrent decompression: at most `slots` bodies are gunzipped at once
 * (each up to `maxDecompressedBytes`), a bounded number wait, and beyond that a request is
 * answered 503 (SDKs retry with backoff).
 *
 * @example
 * const gate = new DecompressionGate(4, 64);
 * const text = await gate.run(() => gunzipLimited(raw, limit));
 */
export class DecompressionGate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly slots: number,
    private readonly maxWaiting: number,
  ) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.slots) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new HttpError(
          503,
          'busy',
          `${this.active} gzip bodies are being decompressed and ${this.waiting.length} wait: retry later`,
        );
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter (active stays the same).
      if (next) next();
      else this.active--;
    }
  }
}
