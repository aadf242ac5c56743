import { describe, expect, it } from 'vitest';
import { formatSummary, groupRaces, type Summary } from './summary.mjs';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const OTHER = '0af7651916cd43dd8448eb211c80319c';

/** A race group as /api/races answers it. */
function race(
  scope: 'trace' | 'cross',
  traceIds: string[],
  kind = 'lost_update',
  services = ['order', 'inventory'],
  count = 1,
) {
  const sides = (services.length === 1 ? [services[0]!, services[0]!] : services).map(
    (service) => ({ service, route: null }),
  );
  return { scope, kind, resource: 'stock:mug', sides, services, trace_ids: traceIds, count };
}

function summary(): Summary {
  return {
    collectorUrl: 'http://127.0.0.1:8080',
    storage: 'SQLite /tmp/demo.db',
    counts: { traces: 2, events: 40 },
    trafficLine: '2 checkouts',
    services: [
      { service: 'payment', requests: 2, errors: 0, latencyMs: { p50: 61.2, p99: 70 } },
      { service: 'frontend', requests: 2, errors: 0, latencyMs: { p50: 95, p99: 101 } },
    ],
    edges: [
      { from: 'order', to: 'payment', calls: 2, errors: 0, latencyMs: { p50: 62, p99: 71 } },
      { from: 'frontend', to: 'api', calls: 2, errors: 0, latencyMs: { p50: 90, p99: 99 } },
    ],
    criticalPath: {
      traceId: TRACE,
      path: {
        totalMs: 100,
        biggestContributor: 'payment',
        sections: [
          { service: 'frontend' },
          { service: 'api' },
          { service: 'order' },
          { service: 'payment' },
          { service: 'order' },
          { service: 'frontend' },
        ],
        services: [
          { service: 'payment', ms: 60 },
          { service: 'order', ms: 20 },
          { service: 'frontend', ms: 12 },
          { service: 'api', ms: 8 },
        ],
      },
    },
    races: groupRaces([race('trace', [TRACE]), race('cross', [TRACE, OTHER])]),
    checkoutRaces: { checkouts: 1, racy: 1, sequential: 1, sequentialRacy: 0 },
    brokenChains: [],
    stock: { sku: 'mug', expected: 9996, actual: 9997 },
  };
}

describe('groupRaces', () => {
  it('counts races of one scope, kind and resource once, with their traces and pairs', () => {
    const groups = groupRaces([
      race('cross', [TRACE, OTHER]),
      race('trace', [TRACE]),
      race('trace', [OTHER]),
      race('cross', [TRACE, OTHER], 'lost_update', ['order']),
      race('trace', [OTHER], 'write_write', undefined, 3),
    ]);
    // Counts are the groups' instances added up.
    expect(groups.map((g) => [g.scope, g.kind, g.count, g.traces])).toEqual([
      ['trace', 'write_write', 3, 1],
      ['trace', 'lost_update', 2, 2],
      ['cross', 'lost_update', 2, 2],
    ]);
    expect(groups[1]?.services).toEqual(['inventory', 'order']);
    expect(groups[2]?.pairs).toEqual([
      { label: 'inventory <-> order', count: 1 },
      { label: 'order <-> order', count: 1 },
    ]);
  });
});

describe('groupRaces outcomes', () => {
  it('counts the lost updates whose values show an update was lost, and says so', () => {
    const withOutcome = (outcome: string) => ({ ...race('cross', [TRACE, OTHER]), outcome });
    const groups = groupRaces([withOutcome('lost'), withOutcome('not_lost'), withOutcome('lost')]);
    expect(groups.map((g) => [g.count, g.lost])).toEqual([[3, 2]]);
    const text = formatSummary({ ...summary(), races: groups });
    expect(text).toContain(
      'lost update on stock:mug across checkouts: 3 pairs of simultaneous requests (inventory <-> order 3; 2 observed losing one)',
    );
  });

  it('takes the count of lost updates the collector gives for a group, and names the row', () => {
    const group = {
      ...race('cross', [TRACE, OTHER], 'lost_update', ['order', 'inventory'], 3),
      resource: 'products[sku=0123456789abcdef].stock',
      label: 'products[sku="mug"].stock',
      outcome: 'lost',
      lost_count: 2,
    };
    const groups = groupRaces([group]);
    expect(groups.map((g) => [g.count, g.lost])).toEqual([[3, 2]]);
    expect(formatSummary({ ...summary(), races: groups })).toContain(
      'lost update on products[sku="mug"].stock across checkouts: 3 pairs of simultaneous requests (inventory <-> order 3; 2 observed losing one)',
    );
  });

  it('says nothing of outcomes when the collector gave none', () => {
    expect(groupRaces([race('cross', [TRACE, OTHER])]).map((g) => g.lost)).toEqual([null]);
  });
});

describe('formatSummary', () => {
  it('draws the critical path in the order the path reaches each service', () => {
    const text = formatSummary(summary());
    const lines = text.split('\n');
    const start = lines.findIndex((l) =>
      l.startsWith('Critical path of checkout 4bf92f35… (100 ms)'),
    );
    expect(start).toBeGreaterThan(-1);
    expect(lines.slice(start + 1, start + 5)).toEqual([
      '  frontend  ██░░░░░░░░░░░░░    12 ms',
      '  api       █░░░░░░░░░░░░░░   8.0 ms',
      '  order     ███░░░░░░░░░░░░    20 ms',
      '  payment   █████████░░░░░░    60 ms   <- biggest contributor: optimise payment first',
    ]);
  });

  it('lists services and edges in the shop order, races and the lost stock', () => {
    const text = formatSummary(summary());
    expect(text.indexOf('  frontend')).toBeLessThan(text.indexOf('  payment'));
    expect(text).toMatch(/frontend -> api\s+2\s+90 ms\s+99 ms\s+0/);
    expect(text).toContain(
      'lost update on stock:mug inside one checkout: inventory <-> order (1 checkout, e.g. 4bf92f35…)',
    );
    expect(text).toContain(
      'lost update on stock:mug across checkouts: 1 pair of simultaneous requests (inventory <-> order 1)',
    );
    expect(text).toContain('stock of mug: 9996 expected, 9997 in the database (1 decrement lost)');
    expect(text).toMatch(
      /its critical path\s+http:\/\/127.0.0.1:8080\/api\/traces\/4bf92f35\w+\/critical-path/,
    );
  });

  it('uses colour only when asked', () => {
    expect(formatSummary(summary())).not.toContain('\u001b[');
    expect(formatSummary(summary(), { color: true })).toContain('\u001b[1m');
  });
});
