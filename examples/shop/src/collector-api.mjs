// A small client of the collector's query API (/api), as a script of the user's would use it.

/**
 * A span of `GET /api/traces/:id`, with the spans it caused (the fields the examples read).
 *
 * @typedef {object} SpanNode
 * @property {string} span_id
 * @property {string | null} parent_span_id
 * @property {boolean} parent_missing
 * @property {string} service
 * @property {string} kind          `server` or `client`
 * @property {SpanNode[]} children
 */

/**
 * A race group of `GET /api/traces/:id/races` or `GET /api/races`.
 *
 * @typedef {object} RaceGroup
 * @property {'trace' | 'cross'} scope
 * @property {string} resource
 * @property {string} label       the resource as people read it
 * @property {string[]} services
 * @property {string[]} trace_ids
 * @property {string} kind
 * @property {number} count
 * @property {string} explanation
 * @property {Array<{ kind: string, services: string[], explanation: string }>} examples
 */

/**
 * Every span of a span tree, each before the spans it caused.
 *
 * @param {SpanNode[]} spans
 * @returns {SpanNode[]}
 */
export function flattenSpans(spans) {
  return spans.flatMap((span) => [span, ...flattenSpans(span.children)]);
}

/**
 * @param {string} baseUrl  the collector, e.g. http://127.0.0.1:8080
 */
export function collectorApi(baseUrl) {
  /**
   * @param {string} path
   * @param {RequestInit} [init]
   * @returns {Promise<any>}
   */
  async function call(path, init) {
    const response = await fetch(`${baseUrl}${path}`, init);
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`${init?.method ?? 'GET'} ${path}: HTTP ${response.status} ${text}`);
    }
    return JSON.parse(text);
  }

  return {
    baseUrl,
    get: call,
    health: () => call('/healthz'),
    services: () => call('/api/services'),
    dependencies: () => call('/api/dependencies'),
    /** @param {string} id */
    trace: (id) => call(`/api/traces/${id}`),
    /** @param {string} id */
    criticalPath: (id) => call(`/api/traces/${id}/critical-path`),
    /** @param {string} id */
    traceRaces: (id) => call(`/api/traces/${id}/races`),
    /** @param {string} id */
    traceDiagnostics: (id) => call(`/api/traces/${id}/diagnostics`),
    /** @param {string} [query] */
    races: (query = '') => call(`/api/races${query}`),
    diagnostics: () => call('/api/diagnostics'),
    /** Analyses everything stored so far and resolves when done. */
    analyze: () => call('/api/analysis/run', { method: 'POST' }),

    /**
     * Waits until the collector has stopped receiving events (its count unchanged for
     * `quietMs`), then analyses everything. For services that keep running and send their
     * events every so often; services that were stopped have flushed already.
     *
     * @param {{ quietMs?: number, timeoutMs?: number }} [options]
     */
    async settle({ quietMs = 600, timeoutMs = 15_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      let last = -1;
      let since = Date.now();
      while (Date.now() < deadline) {
        const { counts } = await call('/healthz');
        const events = Number(counts?.events ?? 0);
        if (events !== last) {
          last = events;
          since = Date.now();
        } else if (Date.now() - since >= quietMs) {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return call('/api/analysis/run', { method: 'POST' });
    },
  };
}
