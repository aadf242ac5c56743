#!/usr/bin/env node
// Runs every benchmark one after another (never in parallel: they would measure each other).
// Each writes its own results/<name>.md with the command that produced it.
import { spawnSync } from 'node:child_process';

const benches = [
  ['node', ['clock.bench.mjs']],
  ['node', ['--expose-gc', '--import', 'tsx', 'analysis.mjs']],
  ['node', ['ingest.mjs', '--seconds', '15', '--connections', '16']],
  ['node', ['http-overhead.mjs', '--seconds', '10', '--rounds', '3']],
  ['node', ['request-path.mjs']],
  ['node', ['--expose-gc', 'transport-memory.mjs']],
  ['node', ['ingest-under-attack.mjs', '--seconds', '8']],
  ['node', ['scale-out.mjs', '--seconds', '10', '--rounds', '2']],
  ['node', ['--import', 'tsx', 'pg-overhead.mjs', '--iterations', '10000', '--rounds', '7']],
];

for (const [command, args] of benches) {
  console.log(`\n=== ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: import.meta.dirname });
  if (result.status !== 0) {
    console.error(`benchmark failed: ${args.join(' ')}`);
    process.exit(result.status ?? 1);
  }
}
