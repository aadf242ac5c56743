// The conformance suite of the contract: every file of spec/vectors, read from the repository
// (never a copy), each case its own test. Clock, propagation and event vectors all run here so
// that one place fails when a vector file is added without a runner; the delivery vectors run
// beside the transport (`runElsewhere`), and are checked for form here.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// The named export: under NodeNext the default import of this CommonJS module is the module
// object, not the class.
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { decodeClock, encodeClock } from '../clock/codec.js';
import { type ClockEntries, VectorClock } from '../clock/vector-clock.js';
import { resolveConfig } from '../config.js';
import { RacewayConfigError } from '../errors.js';
import { decideTraceFlags } from '../sampling/decide.js';
import { rootSampler, samplingThreshold } from '../sampling/root-sampler.js';
import { parseSampleRate } from '../sampling/sample-rate.js';
import { type HeaderValue, headersFromRecord, headersIntoRecord } from './carrier.js';
import { extractContext } from './extract.js';
import { injectContext } from './inject.js';

const specDir = fileURLToPath(new URL('../../../../spec/', import.meta.url));
const vectorsDir = `${specDir}vectors/`;

interface VectorCase {
  id: string;
  note: string;
  op?: string;
  input: Record<string, unknown>;
  expected: Record<string, unknown>;
}
interface VectorFile {
  name: string;
  description: string;
  rules: string;
  cases: VectorCase[];
}

function load(file: string): VectorFile {
  return JSON.parse(readFileSync(`${vectorsDir}${file}`, 'utf8')) as VectorFile;
}

const runners: Record<string, (c: VectorCase) => void> = {
  'extract.json': runExtract,
  'clock-codec.json': runClockCodec,
  'clock-ops.json': runClockOps,
  'inject.json': runInject,
  'events.json': runEvent,
  'sampling.json': runSampling,
  'propagate-to.json': runPropagateTo,
};

/** Vector files whose cases run in a suite of their own, beside the code they pin. */
const runElsewhere: Record<string, string> = {
  'config.json': '../config-vectors.test.ts',
  'delivery.json': '../transport/delivery-vectors.test.ts',
  'param-digest.json': '../db/param-digest.test.ts',
  'sql-accesses.json': '../../../collector/src/analysis/sql/sql-accesses-vectors.test.ts',
};

const files = readdirSync(vectorsDir)
  .filter((name) => name.endsWith('.json'))
  .sort();

describe('spec/vectors', () => {
  it('has a runner for every vector file, and a file for every runner', () => {
    expect(files).toEqual([...Object.keys(runners), ...Object.keys(runElsewhere)].sort());
    for (const suite of Object.values(runElsewhere)) {
      expect(existsSync(fileURLToPath(new URL(suite, import.meta.url))), suite).toBe(true);
    }
  });

  it('lists every file with its case count in vectors/README.md', () => {
    const readme = readFileSync(`${vectorsDir}README.md`, 'utf8');
    const listed = Object.fromEntries(
      [...readme.matchAll(/^\| `([a-z-]+\.json)`\s*\|[^|]*\|\s*(\d+)\s*\|$/gm)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    );
    expect(listed).toEqual(
      Object.fromEntries(files.map((file) => [file, load(file).cases.length])),
    );
  });

  for (const file of files) {
    const vectors = load(file);
    describe(file, () => {
      it('is well formed: name, rules, unique ids with the file prefix, a note on every case', () => {
        expect(vectors.name).toBe(file.replace(/\.json$/, ''));
        expect(vectors.rules).toMatch(/^spec\/README\.md /);
        const ids = vectors.cases.map((c) => c.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const c of vectors.cases) {
          expect(c.id).toMatch(new RegExp(`^${vectors.name}-\\d{3}$`));
          expect(c.note.length).toBeGreaterThan(0);
        }
      });

      const run = runners[file];
      if (run === undefined) return;
      it.each(vectors.cases.map((c) => [`${c.id}: ${c.note}`, c] as const))('%s', (_, c) => run(c));
    });
  }
});

function runExtract(c: VectorCase): void {
  const headers = c.input.headers as Record<string, HeaderValue>;
  const got = extractContext(headersFromRecord(headers));
  expect({ ...got, clock: got.clock === null ? null : got.clock.toJSON() }).toEqual(c.expected);
}

function runClockCodec(c: VectorCase): void {
  if (c.op === 'encode') {
    const { entries, own, dropped } = c.input as {
      entries: ClockEntries;
      own?: string;
      dropped?: number;
    };
    expect({ header: encodeClock(new VectorClock(entries), { own, dropped }) }).toEqual(c.expected);
    return;
  }
  expect(c.op).toBe('decode');
  const decoded = decodeClock(c.input.header as string);
  const got = decoded.ok
    ? { ok: true, entries: decoded.clock.toJSON(), dropped: decoded.dropped }
    : decoded;
  expect(got).toEqual(c.expected);
  if (decoded.ok) {
    // Pairs as well: a deep object comparison might not look at a key named `__proto__`.
    const pairs = (entries: object) => Object.entries(entries).sort();
    expect(pairs(decoded.clock.toJSON())).toEqual(pairs(c.expected.entries as object));
  }
}

function runClockOps(c: VectorCase): void {
  const input = c.input as {
    clock?: ClockEntries;
    component?: string;
    a?: ClockEntries;
    b?: ClockEntries;
  };
  switch (c.op) {
    case 'increment': {
      const clock = new VectorClock(input.clock).increment(input.component!);
      expect({ clock: clock.toJSON() }).toEqual(c.expected);
      return;
    }
    case 'merge': {
      const merged = new VectorClock(input.a).merge(new VectorClock(input.b));
      expect({ clock: merged.toJSON() }).toEqual(c.expected);
      // Merging plain entries gives the same clock as merging a VectorClock.
      expect(new VectorClock(input.a).merge(input.b!).toJSON()).toEqual(c.expected.clock);
      return;
    }
    case 'compare': {
      const order = new VectorClock(input.a).compare(new VectorClock(input.b));
      expect({ order }).toEqual(c.expected);
      return;
    }
    default:
      throw new Error(`unknown op ${String(c.op)} in ${c.id}`);
  }
}

function runInject(c: VectorCase): void {
  const { context, carrier } = c.input as {
    context: {
      traceId: string;
      spanId: string;
      traceFlags: string;
      clock: ClockEntries;
      own?: string;
      clockDropped?: number;
      tracestate?: string | null;
    };
    carrier: Record<string, string>;
  };
  const headers: Record<string, unknown> = { ...carrier };
  injectContext({ ...context, clock: new VectorClock(context.clock) }, headersIntoRecord(headers));
  expect({ headers }).toEqual(c.expected);
}

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
const validateEvent = ajv.compile(
  JSON.parse(readFileSync(`${specDir}schemas/event.schema.json`, 'utf8')) as object,
);

function runEvent(c: VectorCase): void {
  const valid = validateEvent(c.input.event);
  expect({ valid }, JSON.stringify(validateEvent.errors)).toEqual(c.expected);
}

function runSampling(c: VectorCase): void {
  const input = c.input as {
    rate?: number;
    traceId?: string;
    joined?: boolean;
    traceFlags?: string | null;
    value?: string;
  };
  switch (c.op) {
    case 'threshold': {
      const threshold = samplingThreshold(input.rate!);
      expect({ threshold: BigInt(threshold).toString(16).padStart(14, '0') }).toEqual(c.expected);
      return;
    }
    case 'root': {
      const sampled = rootSampler(input.rate!)(input.traceId!);
      expect({ sampled }).toEqual(c.expected);
      // The same decision in exact integers: R >= T over BigInt.
      const r = BigInt(`0x${input.traceId!.slice(18)}`);
      expect(r >= BigInt(samplingThreshold(input.rate!))).toBe(sampled);
      return;
    }
    case 'decide': {
      const flags = decideTraceFlags(
        input.traceFlags,
        input.traceId!,
        input.joined!,
        rootSampler(input.rate!),
      );
      expect({ traceFlags: flags }).toEqual(c.expected);
      return;
    }
    case 'parse': {
      const rate = parseSampleRate(input.value);
      expect(rate === null ? { ok: false } : { ok: true, rate: rate ?? null }).toEqual(c.expected);
      return;
    }
    default:
      throw new Error(`unknown op ${String(c.op)} in ${c.id}`);
  }
}

function runPropagateTo(c: VectorCase): void {
  const { url, propagateTo } = c.input as { url: string; propagateTo: string | null };
  const env = propagateTo === null ? {} : { RACEWAY_PROPAGATE_TO: propagateTo };
  let config: ReturnType<typeof resolveConfig>;
  try {
    config = resolveConfig({ serviceName: 'svc' }, env);
  } catch (error) {
    expect(error).toBeInstanceOf(RacewayConfigError);
    expect((error as RacewayConfigError).code).toBe('RACEWAY_INVALID_PROPAGATE_TO');
    expect({ configError: true }).toEqual(c.expected);
    return;
  }
  expect({ propagate: config.propagateTo(new URL(url)) }).toEqual(c.expected);
}
