// The built `raceway` CLI of @raceway/collector, which the ingestion benchmarks run as a process
// of its own (so that its CPU and memory are its own).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The path of the built CLI; exits with a message when the collector is not built. */
export function builtCollectorCli() {
  const cli = join(
    dirname(createRequire(import.meta.url).resolve('@raceway/collector/package.json')),
    'dist',
    'cli.js',
  );
  if (!existsSync(cli)) {
    console.error(`${cli} is missing: run pnpm build first`);
    process.exit(1);
  }
  return cli;
}
