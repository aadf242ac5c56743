// Vector clock hot path, against the built @raceway/core: a response arrives (decode its
// X-Raceway-VC), its clock is merged into the caller's, and the next call sends the clock
// (encode). Baseline in the same run: JSON.parse + a plain-object merge + JSON.stringify, the
// lenient codec the strict one replaces (no duplicate-key check, no canonical order).
//
//   pnpm --filter @raceway/core build && node bench/clock.bench.mjs
//
// Each sample runs the operation INNER times and reports the mean per operation, so timer
// resolution does not dominate sub-microsecond operations.
import { decodeClock, encodeClock, VectorClock } from '@raceway/core/integration';
import { Bench } from 'tinybench';

const INNER = 100;
const SIZES = [4, 16, 64];
const time = Number(process.env.BENCH_TIME_MS ?? 400);

function hex8(i) {
  return (0x9e3779b1 * (i + 1)).toString(16).slice(-8).padStart(8, '0');
}

/**
 * A remote clock of n entries and a local clock holding half of them (its own among them), so
 * that the merged clock has n entries: the n-entry clock is what is decoded and encoded.
 */
function fixtures(n) {
  const keys = Array.from({ length: n }, (_, i) => `service-${i % 7}#${hex8(i)}`);
  const remote = new VectorClock(keys.map((k, i) => [k, 1 + ((i * 37) % 500)]));
  const own = keys[0];
  const local = new VectorClock(
    keys.slice(0, Math.max(1, n / 2)).map((k, i) => [k, 1 + ((i * 53) % 500)]),
  );
  return { header: encodeClock(remote), local, own };
}

function check(condition, message) {
  if (!condition) throw new Error(`clock bench: ${message}`);
}

const bench = new Bench({ time, warmupTime: 100, throws: true });
const rows = [];

for (const n of SIZES) {
  const { header, local, own } = fixtures(n);
  const decoded = decodeClock(header);
  check(decoded.ok && decoded.clock.size === n, `fixture of ${n} entries does not decode`);
  const parsedLocal = local.toJSON();
  check(local.clone().merge(decoded.clock).size === n, `merged clock must have ${n} entries`);

  const tasks = {
    decode: () => {
      for (let i = 0; i < INNER; i++) decodeClock(header);
    },
    merge: () => {
      for (let i = 0; i < INNER; i++) local.merge(decoded.clock);
    },
    encode: () => {
      for (let i = 0; i < INNER; i++) encodeClock(local, { own });
    },
    'decode + merge + encode': () => {
      for (let i = 0; i < INNER; i++) {
        const d = decodeClock(header);
        if (d.ok) local.merge(d.clock);
        encodeClock(local, { own });
      }
    },
    'baseline: JSON.parse + merge + JSON.stringify': () => {
      for (let i = 0; i < INNER; i++) {
        const remote = JSON.parse(header);
        for (const key in remote) {
          if (!(parsedLocal[key] >= remote[key])) parsedLocal[key] = remote[key];
        }
        JSON.stringify(parsedLocal);
      }
    },
  };
  if (n === 64) {
    // Over the bound: one more entry forces the cut (own kept, highest counters, marker).
    const over = local
      .clone()
      .merge(decoded.clock)
      .increment(`extra#${hex8(2000)}`);
    check(over.size === 65, 'the cut fixture must have 65 entries');
    tasks['encode, 65 entries cut to 64'] = () => {
      for (let i = 0; i < INNER; i++) encodeClock(over, { own });
    };
  }
  for (const [name, fn] of Object.entries(tasks)) {
    const label = `${name} (${n})`;
    rows.push({ n, name, label, bytes: header.length });
    bench.add(label, fn);
  }
}

await bench.run();

const nsPerOp = new Map(
  bench.tasks.map((task) => {
    check(task.result.state === 'completed', `${task.name} did not complete`);
    return [task.name, (task.result.latency.mean * 1e6) / INNER];
  }),
);

const lines = [
  `node ${process.version}, ${process.platform}/${process.arch}, ${time} ms per task, ${INNER} operations per sample`,
  '',
  '| entries | header bytes | operation | ns/op | vs baseline |',
  '|---:|---:|---|---:|---:|',
];
for (const row of rows) {
  const baseline = nsPerOp.get(`baseline: JSON.parse + merge + JSON.stringify (${row.n})`);
  const ns = nsPerOp.get(row.label);
  const ratio = row.name.startsWith('decode + merge') ? `${(ns / baseline).toFixed(2)}x` : '';
  lines.push(`| ${row.n} | ${row.bytes} | ${row.name} | ${ns.toFixed(0)} | ${ratio} |`);
}
console.log(lines.join('\n'));
