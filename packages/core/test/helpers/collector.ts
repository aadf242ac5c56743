import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { RacewayEvent } from '../../src/events.js';
import type { EventBatch } from '../../src/transport/batch.js';
import { validateBatch, validateEvent } from './schemas.js';

/** A collector stand-in on a real port: validates, stores each event id once, answers per spec 4.1. */
export interface TestCollector {
  readonly url: string;
  readonly port: number;
  /** Every batch that parsed, in arrival order (retries included). */
  readonly batches: EventBatch[];
  /** Stored events by id: each id once, as the real collector does. */
  readonly stored: Map<string, RacewayEvent>;
  /** Events received again after they were stored. */
  duplicates: number;
  /** Answers of the next requests, used before any other rule (e.g. [503, 503]). */
  readonly nextStatuses: number[];
  /** Delay before answering, after storing (a slow collector). */
  delayMs: number;
  /**
   * Decides the answer to a batch that parsed (after it is added to `batches`): a status to
   * answer instead of storing it, or undefined to store it as usual.
   */
  answerWith: ((batch: EventBatch) => number | undefined) | null;
  /** Requests received and not answered yet. */
  readonly inFlight: number;
  /** The most requests received and not answered yet at one time. */
  readonly mostInFlight: number;
  close(): Promise<void>;
}

export async function startCollector(
  options: { port?: number; apiKey?: string } = {},
): Promise<TestCollector> {
  const sockets = new Set<import('node:net').Socket>();
  let inFlight = 0;
  let mostInFlight = 0;
  const server = http.createServer((req, res) => {
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    let open = true;
    const answered = () => {
      if (open) inFlight--;
      open = false;
    };
    // A request the client gave up on is not in flight either.
    res.on('close', answered);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void answer(req, Buffer.concat(chunks)).then(async ({ status, body }) => {
        if (collector.delayMs > 0)
          await new Promise((resolve) => setTimeout(resolve, collector.delayMs));
        // Counted as answered before the client can see the answer and send its next request.
        answered();
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function answer(
    req: http.IncomingMessage,
    raw: Buffer,
  ): Promise<{ status: number; body: unknown }> {
    const forced = collector.nextStatuses.shift();
    if (forced !== undefined) return { status: forced, body: { error: `forced ${forced}` } };
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return { status: 401, body: { error: 'missing or wrong API key' } };
    }
    let batch: EventBatch;
    try {
      const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      batch = JSON.parse(text.toString('utf8')) as EventBatch;
    } catch {
      return { status: 400, body: { error: 'not gzip JSON' } };
    }
    if (!validateBatch(batch)) return { status: 400, body: { error: 'not a batch' } };
    collector.batches.push(batch);
    const decided = collector.answerWith?.(batch);
    if (decided !== undefined) return { status: decided, body: { error: `answered ${decided}` } };
    let accepted = 0;
    let duplicates = 0;
    const rejected: Array<{ index: number; id: string | null; errors: string[] }> = [];
    batch.events.forEach((event, index) => {
      if (!validateEvent(event)) {
        rejected.push({
          index,
          id: (event as { id?: string }).id ?? null,
          errors: ['invalid event'],
        });
      } else if (collector.stored.has(event.id)) {
        duplicates++;
      } else {
        collector.stored.set(event.id, event);
        accepted++;
      }
    });
    collector.duplicates += duplicates;
    const body = { accepted, duplicates, ...(rejected.length > 0 ? { rejected } : {}) };
    return { status: rejected.length > 0 ? 422 : 200, body };
  }

  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const collector: TestCollector = {
    url: `http://127.0.0.1:${port}`,
    port,
    batches: [],
    stored: new Map(),
    duplicates: 0,
    nextStatuses: [],
    delayMs: 0,
    answerWith: null,
    get inFlight() {
      return inFlight;
    },
    get mostInFlight() {
      return mostInFlight;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return collector;
}

/** A port that nothing listens on (connection refused), reusable later for a collector. */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
