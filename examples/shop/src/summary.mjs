// The demo's summary: what the collector found, gathered from its query API (gatherSummary) and
// printed for a person to read in ten seconds (formatSummary, a pure function).
import { SERVICES } from './catalogue.mjs';

/**
 * @typedef {object} SummaryInput
 * @property {ReturnType<typeof import('./collector-api.mjs').collectorApi>} api
 * @property {string} storage       where the collector keeps its data, for the reader
 * @property {import('./traffic.mjs').DemoTraffic} traffic
 * @property {{ sku: string, expected: number, actual: number }} [stock]  the stock row after the traffic
 */

/**
 * @typedef {object} Summary
 * @property {string} collectorUrl
 * @property {string} storage
 * @property {{ traces: number, events: number }} counts
 * @property {string} trafficLine
 * @property {any[]} services        /api/services
 * @property {any[]} edges           /api/dependencies
 * @property {{ traceId: string, path: any } | null} criticalPath
 * @property {RaceGroup[]} races
 * @property {{ checkouts: number, racy: number, sequential: number, sequentialRacy: number }} checkoutRaces
 * @property {{ explanation: string, count: number }[]} brokenChains
 * @property {{ sku: string, expected: number, actual: number } | undefined} stock
 */

/**
 * @typedef {object} RaceGroup
 * @property {'trace' | 'cross'} scope
 * @property {string} kind        lost_update, write_write, read_write
 * @property {string} resource
 * @property {string} label       the resource as people read it (`products[sku="mug"].stock`)
 * @property {string[]} services  every service involved
 * @property {{ label: string, count: number }[]} pairs  races per pair of services, e.g. `inventory <-> order`
 * @property {number} count       race instances found (the groups' counts added up)
 * @property {number | null} lost  lost updates: instances whose values show an update was lost
 *                                 (outcome `lost`); null when the collector gave no outcome
 * @property {number} traces      traces involved
 * @property {string} example     a trace id to look at
 */

/**
 * Reads what the collector made of the demo's traffic.
 *
 * @param {SummaryInput} input
 * @returns {Promise<Summary>}
 */
export async function gatherSummary({ api, storage, traffic, stock }) {
  const [health, services, dependencies, races, diagnostics] = await Promise.all([
    api.health(),
    api.services(),
    api.dependencies(),
    api.races('?limit=1000'),
    api.diagnostics(),
  ]);
  // The last of the one-by-one checkouts: the first ones also measure the services warming up.
  const featured = traffic.checkouts.findLast((v) => v.traceId !== null)?.traceId ?? null;
  const path = featured === null ? null : (await api.criticalPath(featured)).critical_path;

  /** @param {import('./traffic.mjs').Visit[]} visits */
  const ids = (visits) => new Set(visits.map((v) => v.traceId).filter((id) => id !== null));
  const concurrentIds = ids([...traffic.checkouts, ...traffic.burst]);
  const sequentialIds = ids(traffic.sequentialCheckouts);
  const racyTraces = new Set(
    races.races
      .filter((/** @type {any} */ r) => r.scope === 'trace')
      .flatMap((/** @type {any} */ r) => r.trace_ids),
  );

  const visits = [...traffic.checkouts, ...traffic.sequentialCheckouts, ...traffic.burst];
  return {
    collectorUrl: api.baseUrl,
    storage,
    counts: { traces: health.counts?.traces ?? 0, events: health.counts?.events ?? 0 },
    trafficLine: `${traffic.checkouts.length} checkouts one after another, ${traffic.sequentialCheckouts.length} in sequential mode, a burst of ${traffic.burst.length} at once, ${traffic.browsing.length} visits to the catalogue (${visits.length + traffic.browsing.length} requests)`,
    services: services.services ?? [],
    edges: dependencies.edges ?? [],
    criticalPath: featured === null || path === null ? null : { traceId: featured, path },
    races: groupRaces(races.races),
    checkoutRaces: {
      checkouts: concurrentIds.size,
      racy: [...concurrentIds].filter((id) => racyTraces.has(id)).length,
      sequential: sequentialIds.size,
      sequentialRacy: [...sequentialIds].filter((id) => racyTraces.has(id)).length,
    },
    brokenChains: groupBrokenChains(diagnostics.traces ?? []),
    stock,
  };
}

/**
 * The collector's race groups (one per trace, resource, kind and pair of sides) merged across
 * traces: per scope, kind and resource, the instances found and the pairs of sides involved.
 *
 * @param {any[]} races  /api/races (race groups)
 * @returns {RaceGroup[]}
 */
export function groupRaces(races) {
  /** @type {Map<string, RaceGroup & { traceSet: Set<string>, pairMap: Map<string, number> }>} */
  const groups = new Map();
  for (const r of races) {
    const kind = String(r.kind ?? 'race');
    const key = `${r.scope}|${kind}|${r.resource}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = {
        scope: r.scope,
        kind,
        resource: r.resource,
        label: r.label ?? r.resource,
        services: [],
        pairs: [],
        count: 0,
        lost: null,
        traces: 0,
        example: r.trace_ids[0],
        traceSet: new Set(),
        pairMap: new Map(),
      };
      groups.set(key, group);
    }
    const instances = typeof r.count === 'number' ? r.count : 1;
    group.count += instances;
    // How many instances the values show lost an update (the collector counts them).
    if (typeof r.outcome === 'string') {
      const lost =
        typeof r.lost_count === 'number' ? r.lost_count : r.outcome === 'lost' ? instances : 0;
      group.lost = (group.lost ?? 0) + lost;
    }
    for (const id of r.trace_ids) group.traceSet.add(id);
    /** @type {{ service: string }[]} */
    const sides = r.sides ?? r.services.map((/** @type {string} */ service) => ({ service }));
    const services = sides.map((side) => side.service).sort();
    // Two requests to the same service race too (two checkouts, both in order).
    const label =
      services.length === 1 ? `${services[0]} <-> ${services[0]}` : services.join(' <-> ');
    group.pairMap.set(label, (group.pairMap.get(label) ?? 0) + instances);
    group.services = [...new Set([...group.services, ...services])].sort();
  }
  return [...groups.values()]
    .map(({ traceSet, pairMap, ...group }) => ({
      ...group,
      traces: traceSet.size,
      pairs: [...pairMap]
        .map(([label, count]) => ({ label, count }))
        .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : 1)),
    }))
    .sort((a, b) => (a.scope === b.scope ? b.count - a.count : a.scope === 'trace' ? -1 : 1));
}

/**
 * @param {any[]} traces  /api/diagnostics
 * @returns {{ explanation: string, count: number }[]}
 */
function groupBrokenChains(traces) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const trace of traces) {
    for (const chain of trace.diagnostics?.brokenChains ?? []) {
      const key = `${chain.service}: ${chain.explanation}`;
      counts.set(key, (counts.get(key) ?? 0) + (chain.count ?? 1));
    }
  }
  return [...counts].map(([explanation, count]) => ({ explanation, count }));
}

/** @param {boolean} enabled */
function palette(enabled) {
  /** @param {string} code */
  const style = (code) => (/** @type {string} */ text) =>
    enabled ? `\u001b[${code}m${text}\u001b[0m` : text;
  return {
    bold: style('1'),
    dim: style('2'),
    red: style('31'),
    green: style('32'),
    yellow: style('33'),
    cyan: style('36'),
  };
}

/** @param {number | null | undefined} ms */
function millis(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  return ms >= 10 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}

/**
 * @param {number} part
 * @param {number} whole
 * @param {number} width
 */
function bar(part, whole, width) {
  const filled = whole > 0 ? Math.min(width, Math.max(1, Math.round((part / whole) * width))) : 0;
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

/**
 * @param {string[][]} rows
 * @param {('l' | 'r')[]} align
 */
function table(rows, align) {
  const widths = align.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, i) =>
        align[i] === 'r' ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0),
      )
      .join('  ')
      .trimEnd(),
  );
}

const RACE_KINDS = /** @type {Record<string, string>} */ ({
  lost_update: 'lost update',
  write_write: 'write-write race',
  read_write: 'read-write race',
});

/**
 * The summary as text. Without colour unless asked (the demo asks when stdout is a terminal).
 *
 * @param {Summary} s
 * @param {{ color?: boolean, services?: readonly import('./catalogue.mjs').ServiceSpec[], title?: string }} [options]
 *   `services`: the catalogue whose stacks and order the tables follow (default: this shop's)
 * @returns {string}
 */
export function formatSummary(
  s,
  {
    color = false,
    services: catalogue = SERVICES,
    title = 'Raceway demo: the example shop, traced and analysed',
  } = {},
) {
  const c = palette(color);
  const out = [];
  const stackOf = (/** @type {string} */ name) =>
    catalogue.find((x) => x.name === name)?.stack ?? '';
  const order = (/** @type {string} */ name) => {
    const i = catalogue.findIndex((x) => x.name === name);
    return i === -1 ? catalogue.length : i;
  };

  out.push(c.bold(title));
  out.push(`  traffic    ${s.trafficLine}`);
  out.push(`  collector  ${s.collectorUrl}  (${s.storage})`);
  out.push(`  stored     ${s.counts.traces} traces, ${s.counts.events} events`);

  out.push('', c.bold('Services'));
  const services = [...s.services].sort((a, b) => order(a.service) - order(b.service));
  if (services.length === 0) out.push('  none reported');
  else {
    const rows = [['', '', 'requests', 'p50', 'p99', 'errors']];
    for (const m of services) {
      rows.push([
        m.service,
        stackOf(m.service),
        String(m.requests),
        millis(m.latencyMs?.p50),
        millis(m.latencyMs?.p99),
        String(m.errors),
      ]);
    }
    out.push(...table(rows, ['l', 'l', 'r', 'r', 'r', 'r']).map((line) => `  ${line}`));
  }

  out.push('', c.bold('Dependencies'));
  const edges = [...s.edges].sort(
    (a, b) => order(a.from) - order(b.from) || order(a.to) - order(b.to),
  );
  if (edges.length === 0) out.push('  none found');
  else {
    const fromWidth = Math.max(...edges.map((e) => String(e.from).length));
    const rows = [['', 'calls', 'p50', 'p99', 'errors']];
    for (const e of edges) {
      rows.push([
        `${String(e.from).padEnd(fromWidth)} -> ${e.to}`,
        String(e.calls),
        millis(e.latencyMs?.p50),
        millis(e.latencyMs?.p99),
        String(e.errors),
      ]);
    }
    out.push(...table(rows, ['l', 'r', 'r', 'r', 'r']).map((line) => `  ${line}`));
  }

  out.push('');
  if (s.criticalPath === null) out.push(c.bold('Critical path'), '  not computed');
  else {
    const { traceId, path } = s.criticalPath;
    out.push(c.bold(`Critical path of checkout ${traceId.slice(0, 8)}… (${millis(path.totalMs)})`));
    // Services in the order the path first reaches them, with the time each one accounts for.
    /** @type {string[]} */
    const firstSeen = [];
    for (const section of path.sections ?? []) {
      if (!firstSeen.includes(section.service)) firstSeen.push(section.service);
    }
    const share = new Map((path.services ?? []).map((/** @type {any} */ x) => [x.service, x.ms]));
    const width = Math.max(...firstSeen.map((name) => name.length));
    for (const name of firstSeen) {
      const ms = share.get(name) ?? 0;
      const line = `  ${name.padEnd(width)}  ${bar(ms, path.totalMs, 15)}  ${millis(ms).padStart(7)}`;
      if (name === path.biggestContributor) {
        out.push(c.yellow(`${line}   <- biggest contributor: optimise ${name} first`));
      } else out.push(line);
    }
  }

  out.push('', c.bold('Races'));
  if (s.races.length === 0) out.push(`  ${c.green('none found')}`);
  for (const g of s.races) {
    const kind = RACE_KINDS[g.kind] ?? g.kind;
    // What the values say: how many of them did lose an update this time.
    const observed =
      g.lost === null || g.lost === undefined ? '' : `; ${g.lost} observed losing one`;
    if (g.scope === 'trace') {
      const who = g.pairs.map((p) => p.label).join(', ');
      const checkouts = `${g.traces} checkout${g.traces === 1 ? '' : 's'}`;
      out.push(
        `${c.red(`  ${kind} on ${g.label} inside one checkout: ${who}`)} (${checkouts}, e.g. ${g.example.slice(0, 8)}…${observed})`,
      );
    } else {
      const who = g.pairs.map((p) => `${p.label} ${p.count}`).join(', ');
      out.push(
        `${c.red(`  ${kind} on ${g.label} across checkouts:`)} ${g.count} pair${g.count === 1 ? '' : 's'} of simultaneous requests (${who}${observed})`,
      );
    }
  }
  const r = s.checkoutRaces;
  out.push(
    `  checkouts calling order and inventory at once: ${r.racy} of ${r.checkouts} race; in sequential mode: ${r.sequentialRacy} of ${r.sequential}`,
  );
  if (s.stock !== undefined) {
    const lost = s.stock.actual - s.stock.expected;
    out.push(
      `  stock of ${s.stock.sku}: ${s.stock.expected} expected, ${s.stock.actual} in the database` +
        (lost > 0 ? c.red(` (${lost} decrement${lost === 1 ? '' : 's'} lost)`) : ''),
    );
  }

  out.push('', c.bold('Broken chains'));
  if (s.brokenChains.length === 0) out.push(`  ${c.green('none')}`);
  for (const b of s.brokenChains) out.push(`  ${b.explanation} (x${b.count})`);

  out.push('', c.bold('Where to look next'));
  const url = s.collectorUrl;
  const featured = s.criticalPath?.traceId;
  const links = [['the web UI: traces, races, the dependency graph', `${url}/`]];
  if (featured !== undefined)
    links.push(['the checkout above in the UI', `${url}/traces/${featured}`]);
  links.push(['every race, with values and clocks', `${url}/api/races`]);
  if (featured !== undefined) {
    links.push(['the races of the checkout above', `${url}/api/traces/${featured}/races`]);
    links.push(['its critical path', `${url}/api/traces/${featured}/critical-path`]);
  }
  links.push(['the dependency graph', `${url}/api/dependencies`]);
  links.push(['the whole query API', `${url}/api/openapi.json`]);
  const labelWidth = Math.max(...links.map(([label]) => (label ?? '').length));
  for (const [label, link] of links)
    out.push(`  ${(label ?? '').padEnd(labelWidth)}  ${c.cyan(link ?? '')}`);
  return `${out.join('\n')}\n`;
}
