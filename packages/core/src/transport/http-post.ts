import http from 'node:http';
import https from 'node:https';
import { SDK_INFO } from './batch.js';

/** What came back from one request to the collector. */
export interface PostResult {
  /** The HTTP status, or null when no answer arrived (network error, timeout, abort). */
  status: number | null;
  /** The answer's body (at most 1 MiB), '' when none. */
  body: string;
  /** The `Retry-After` header, if any. */
  retryAfter: string | undefined;
  /** Why no answer arrived. */
  error: string | null;
}

/** Parameters of one request. */
export interface PostRequest {
  endpoint: URL;
  /** The JSON batch. */
  body: Buffer;
  /** True when `body` is gzip-compressed. */
  gzip: boolean;
  apiKey: string | null;
  agent: http.Agent;
  timeoutMs: number;
}

/** A request in flight: its result (never rejects) and a way to abandon it. */
export interface PendingPost {
  result: Promise<PostResult>;
  abort(): void;
}

const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * POSTs one batch with node:http / node:https. Deliberately not fetch, undici or axios: the
 * client instrumentation of Raceway hooks those, and the SDK must never trace its own calls to
 * the collector. The result promise never rejects.
 */
export function postBatch(request: PostRequest): PendingPost {
  let settle: (result: PostResult) => void = () => {};
  const result = new Promise<PostResult>((resolve) => {
    let done = false;
    settle = (value) => {
      if (done) return;
      done = true;
      resolve(value);
    };
  });
  const fail = (error: unknown) =>
    settle({ status: null, body: '', retryAfter: undefined, error: describe(error) });

  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': request.body.length,
    'user-agent': `raceway-node/${SDK_INFO.version}`,
  };
  if (request.gzip) headers['content-encoding'] = 'gzip';
  if (request.apiKey !== null) headers.authorization = `Bearer ${request.apiKey}`;

  let req: http.ClientRequest | undefined;
  let response: http.IncomingMessage | undefined;
  const chunks: Buffer[] = [];
  const finish = () => {
    if (response === undefined) return;
    const retryAfter = response.headers['retry-after'];
    settle({
      status: response.statusCode ?? null,
      body: Buffer.concat(chunks).toString('utf8'),
      retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
      error: null,
    });
  };
  try {
    // Looked up on the module object at call time (not destructured at import), so that
    // interception libraries that patch node:http, such as msw in tests, still see the call.
    const client = request.endpoint.protocol === 'https:' ? https : http;
    req = client.request(
      request.endpoint,
      { method: 'POST', agent: request.agent, headers },
      (res) => {
        response = res;
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
        });
        res.on('end', finish);
        res.on('error', fail);
      },
    );
    req.setTimeout(request.timeoutMs, () => {
      req?.destroy(new Error(`no answer within ${request.timeoutMs} ms`));
    });
    req.on('error', fail);
    // 'close' can come before the response's 'end' (an empty body); a complete response still
    // counts, anything less is a failure.
    req.on('close', () => {
      if (response === undefined || !response.complete) {
        fail(new Error(response ? 'response cut short' : 'connection closed'));
      } else if (response.readableEnded) {
        finish();
      } else {
        // Received in full but not read yet: 'end' finishes, or 'close' at the latest.
        response.once('close', finish);
      }
    });
    req.end(request.body);
  } catch (error) {
    fail(error);
  }
  return {
    result,
    abort() {
      req?.destroy(new Error('aborted'));
    },
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
