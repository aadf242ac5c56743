// A batch worker that calls the accounts service with plain node:http.request: a client no
// Raceway instrumentation knows, so it propagates the trace by hand.
import { request } from 'node:http';
import { getTraceHeaders, mergeResponseHeaders, runInContext, trackEvent } from '@raceway/core';

/**
 * POSTs JSON with node:http and resolves with the status and the parsed body. Inside an
 * execution context the request carries the trace headers (`getTraceHeaders()`), and the
 * callee's clock from the response is merged (`mergeResponseHeaders()`), so what the worker
 * does next is ordered after what the callee did.
 *
 * @param {string} url
 * @param {unknown} body
 * @returns {Promise<{ status: number, body: any }>}
 */
export function postJson(url, body) {
  const payload = JSON.stringify(body);
  // One client call of its own, named by its target: an edge of the dependency graph.
  const traceHeaders = getTraceHeaders({ url, method: 'POST' });
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          ...traceHeaders,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        mergeResponseHeaders(res.headers, { status: res.statusCode, request: traceHeaders });
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        res.on('error', reject);
      },
    );
    req.on('error', (error) => {
      mergeResponseHeaders(undefined, { error, request: traceHeaders });
      reject(error);
    });
    req.end(payload);
  });
}

/**
 * Runs one batch of transfers as one trace: the worker starts its own execution context (there
 * is no incoming request to join), records what it does, and sends the transfers at once.
 *
 * @example
 * const tracer = Tracer.fromOptions({ serviceName: 'transfer-worker' });
 * const { traceId } = await runTransferBatch({
 *   tracer,
 *   accountsUrl: 'http://127.0.0.1:3100',
 *   transfers: [{ from: 'alice', to: 'bob', amount: 500 }, { from: 'alice', to: 'carol', amount: 300 }],
 * });
 *
 * @param {object} options
 * @param {import('@raceway/core').Tracer} options.tracer
 * @param {string} options.accountsUrl
 * @param {import('./accounts-service.mjs').Transfer[]} options.transfers
 * @param {boolean} [options.locked]  ask the service to take its per-account locks
 */
export function runTransferBatch({ tracer, accountsUrl, transfers, locked = false }) {
  const context = tracer.startContext();
  return runInContext(context, async () => {
    trackEvent('transfer_batch', { transfers: transfers.length, locked });
    const target = `${accountsUrl}/transfers${locked ? '?lock=1' : ''}`;
    const results = await Promise.all(transfers.map((transfer) => postJson(target, transfer)));
    trackEvent('transfer_batch_done', { statuses: results.map((r) => r.status) });
    return { traceId: context.traceId, results };
  });
}
