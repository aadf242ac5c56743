import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One batch an SDK sent, and what the collector answered. */
export interface RecordedBatch {
  sdk: { name?: string; language?: string; version?: string } | undefined;
  events: number;
  dropped: number;
  status: number;
  accepted: number;
  rejected: unknown[];
}

export interface IngestRecorder {
  /** What the services use as RACEWAY_URL. */
  url: string;
  batches: RecordedBatch[];
  close(): Promise<void>;
}

/**
 * A pass-through in front of the collector's ingest endpoint that keeps, per batch, which SDK
 * sent it and what the collector answered: the collector validates every event against the
 * spec's schema and lists the ones it rejects in a 422, which the services themselves only
 * count as dropped.
 */
export async function startIngestRecorder(collectorUrl: string): Promise<IngestRecorder> {
  const batches: RecordedBatch[] = [];
  const server: Server = createServer((request, response) => {
    void forward(request).then(
      ({ status, body }) => {
        response.writeHead(status, { 'content-type': 'application/json' }).end(body);
      },
      (error: Error) => {
        response.writeHead(502, { 'content-type': 'text/plain' }).end(error.message);
      },
    );
  });

  async function forward(request: IncomingMessage) {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'content-encoding', 'authorization']) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const answer = await fetch(`${collectorUrl}${request.url}`, {
      method: request.method,
      headers,
      body: raw.length > 0 ? raw : undefined,
    });
    const body = await answer.text();
    if (request.url?.startsWith('/v1/events')) {
      const json = headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const batch = JSON.parse(json.toString('utf8')) as {
        sdk?: RecordedBatch['sdk'];
        events?: unknown[];
        dropped?: number;
      };
      const result = JSON.parse(body) as { accepted?: number; rejected?: unknown[] };
      batches.push({
        sdk: batch.sdk,
        events: batch.events?.length ?? 0,
        dropped: batch.dropped ?? 0,
        status: answer.status,
        accepted: result.accepted ?? 0,
        rejected: result.rejected ?? [],
      });
    }
    return { status: answer.status, body };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    batches,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
