import { describe, expect, it } from 'vitest';
import { compareTraces, operationOf, selfMs } from '../../ui/src/compare-model.js';
import type { Span } from '../../ui/src/types.js';

// The compare view's model: spans matched by their place in the call tree, not by id.

let next = 0;
function span(
  service: string,
  kind: Span['kind'],
  fields: { route?: string; host?: string; start?: number; ms?: number },
  children: Span[] = [],
): Span {
  next += 1;
  return {
    span_id: `s${next}`,
    parent_span_id: null,
    parent_missing: false,
    service,
    instance: `${service}-1`,
    kind,
    name: kind === 'client' ? `POST http://${fields.host}/x/${next}` : `GET ${fields.route}`,
    method: kind === 'client' ? 'POST' : 'GET',
    route: fields.route ?? null,
    url: null,
    host: fields.host ?? null,
    status: 200,
    error: null,
    failed: false,
    complete: true,
    incoming: null,
    start_us: fields.start ?? 0,
    start: '',
    duration_ms: fields.ms ?? 1,
    events: [],
    children,
  };
}

const call = (host: string, callee: string, start: number, ms: number) =>
  span('web', 'client', { host, start, ms }, [
    span(callee, 'server', { route: '/work', start: start + 100, ms: ms - 0.2 }),
  ]);

describe('compareTraces', () => {
  it('names a client span by method and host, whatever ids its URL holds', () => {
    expect(operationOf(call('db:5432', 'db', 0, 1))).toBe('POST db:5432');
  });

  it('finds the calls only B makes, and the ones it repeats less', () => {
    const a = [
      span('web', 'server', { route: '/checkout', ms: 10 }, [
        call('stock:80', 'stock', 1000, 2),
        call('stock:80', 'stock', 4000, 2),
      ]),
    ];
    const b = [
      span('web', 'server', { route: '/checkout', ms: 20 }, [
        call('stock:80', 'stock', 1000, 2),
        call('pay:80', 'pay', 4000, 5),
      ]),
    ];
    const result = compareTraces(a, b);
    const byChange = (change: string) =>
      result.rows.filter((r) => r.change === change).map((r) => `${r.service}: ${r.operation}`);
    expect(byChange('added')).toEqual(['web: POST pay:80', 'pay: GET /work']);
    expect(byChange('missing')).toEqual(['web: POST stock:80', 'stock: GET /work']);
    expect(result).toMatchObject({ added: 2, missing: 2 });
    const stock = result.services.find((s) => s.service === 'stock')!;
    expect(stock.msA).toBeCloseTo(3.6);
    expect(stock.msB).toBeCloseTo(1.8);
    expect(result.services.find((s) => s.service === 'pay')).toMatchObject({
      inA: false,
      inB: true,
    });
  });

  it("counts a span's own time once where its children overlap", () => {
    const parent = span('web', 'server', { route: '/', start: 0, ms: 10 }, [
      span('web', 'client', { host: 'a', start: 1000, ms: 4 }),
      span('web', 'client', { host: 'b', start: 3000, ms: 4 }),
    ]);
    // Children cover 1-7 ms: 6 of the 10 ms.
    expect(selfMs(parent)).toBeCloseTo(4);
  });
});
