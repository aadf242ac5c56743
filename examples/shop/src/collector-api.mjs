// A small client of the collector's query API (/api), as a script of the user's would use it.

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
