import { describe, expect, it } from 'vitest';
import { diagnostics, raceGroup } from '../../test/analysis-results.js';
import { makeTrace } from '../../test/fixtures.js';
import { crossTraceGroupId } from '../analysis/index.js';
import { countFindings, raceRecord } from './race-record.js';

describe('raceRecord', () => {
  it('files a cross-trace race group under both traces, its resource and its sides', () => {
    const [a, b] = [makeTrace({ resource: 'stock:1' }), makeTrace({ resource: 'stock:1' })].map(
      (trace) => trace.find((e) => e.kind === 'state_write')!,
    );
    const group = raceGroup('lost_update', 'cross_trace', a!, b!);
    const traces = [a!.trace_id, b!.trace_id].sort();
    expect(raceRecord(group, 'cross')).toEqual({
      id: group.id,
      scope: 'cross',
      traceA: traces[0],
      traceB: traces[1],
      resource: 'stock:1',
      serviceA: a!.service,
      serviceB: b!.service,
      tsUs: a!.ts_us,
      lastTsUs: b!.ts_us,
      race: group,
      groupId: crossTraceGroupId(group),
    });
  });

  it('files cross-trace races of the same kind, resource and sides under one group', () => {
    const writes = Array.from({ length: 3 }, () => makeTrace({ resource: 'stock:1' })).map(
      (trace) => trace.find((e) => e.kind === 'state_write')!,
    );
    const [ab, bc] = [
      raceGroup('lost_update', 'cross_trace', writes[0]!, writes[1]!),
      raceGroup('lost_update', 'cross_trace', writes[1]!, writes[2]!),
    ].map((g) => raceRecord(g, 'cross'));
    expect(ab!.id).not.toBe(bc!.id);
    expect(ab!.groupId).toBe(bc!.groupId);
    const other = raceGroup('write_write', 'cross_trace', writes[0]!, writes[1]!);
    expect(raceRecord(other, 'cross').groupId).not.toBe(ab!.groupId);
  });

  it('files an intra-trace group under its trace only', () => {
    const events = makeTrace();
    const [read, write] = ['state_read', 'state_write'].map(
      (kind) => events.find((e) => e.kind === kind)!,
    );
    const group = raceGroup('read_write', 'trace', read!, write!);
    expect(raceRecord(group, 'trace', read!.trace_id)).toMatchObject({
      traceA: read!.trace_id,
      traceB: null,
    });
  });
});

describe('countFindings', () => {
  it('adds up the top-level lists', () => {
    const chain = { kind: 'parent_unknown', count: 1 } as never;
    expect(countFindings(diagnostics({ brokenChains: [chain, chain], errors: [chain] }))).toBe(3);
    expect(countFindings(diagnostics())).toBe(0);
    expect(countFindings(null)).toBe(0);
  });
});
