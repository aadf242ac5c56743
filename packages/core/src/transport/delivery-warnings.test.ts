import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../config.js';
import { Diagnostics } from '../logger.js';
import { DeliveryWarnings, WARNING_INTERVAL_MS } from './delivery-warnings.js';

function spy() {
  const lines: string[] = [];
  const logger = {
    debug: () => {},
    warn: (message: string) => lines.push(message),
    error: () => {},
  };
  return { lines, logger };
}

describe('delivery warnings (spec 4.2, Warnings)', () => {
  it('are rate-limited per kind and count what they left out', () => {
    const { lines, logger } = spy();
    let now = 1_000_000;
    const warnings = new DeliveryWarnings('http://c/v1/events', new Diagnostics(logger), () => now);
    warnings.failing('refused', 1);
    for (let i = 0; i < 5; i++) {
      now += 1000;
      warnings.failing('refused', 2);
    }
    // Another kind has a limit of its own: the first drop is said at once.
    warnings.dropped(3, 'refused by the collector: HTTP 401', 401);
    now += WARNING_INTERVAL_MS;
    warnings.failing('refused', 3);
    warnings.recovered(7);
    expect(lines).toEqual([
      expect.stringMatching(
        /^cannot deliver events to http:\/\/c\/v1\/events \(refused\); 1 event/,
      ),
      "3 event(s) for http://c/v1/events dropped: refused by the collector: HTTP 401; check RACEWAY_API_KEY (apiKey) against the collector's keys",
      expect.stringMatching(/\(5 more delivery problem\(s\) since the last warning\)$/),
      'collector at http://c/v1/events reachable again after 7 failed attempt(s)',
    ]);
  });
});

describe('misspelt variables (spec 7)', () => {
  it('names RACEWAY_URL when RACEWAY_SERVER_URL is set, without debug', () => {
    const { lines, logger } = spy();
    const config = resolveConfig(
      { serviceName: 's', logger },
      { RACEWAY_SERVER_URL: 'http://collector:9000', RACEWAY_PORT: '8080' },
    );
    expect(config.serverUrl).toBe('http://127.0.0.1:8080');
    expect(lines).toEqual(['RACEWAY_SERVER_URL is set but not read (did you mean RACEWAY_URL?)']);
  });
});
