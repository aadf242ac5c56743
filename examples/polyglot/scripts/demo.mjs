#!/usr/bin/env node
// `pnpm demo --polyglot` (or `pnpm demo:polyglot`): the collector, the shop's six services and
// an audit log written in four languages (TypeScript, Python, Go, Rust), the TypeScript demo's
// traffic, then the same summary. Builds what each language needs first (scripts/build.sh). Keeps running
// until Ctrl-C; `--once` prints and exits.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runDemo } from '@raceway/example-shop/src/demo-runner.mjs';
import { SERVICES } from '../src/catalogue.mjs';
import { startPolyglotShop } from '../src/launch.mjs';

const HELP = `Usage: pnpm demo --polyglot [options]   (or: pnpm demo:polyglot [-- options])

Builds the polyglot shop (a Python virtualenv, a Go and a Rust binary), starts a Raceway
collector and the seven services (TypeScript, Python, Go, Rust), sends traffic, waits for the
analysis and prints what Raceway found. Keeps running until Ctrl-C.

Options:
  --once                   print the summary and exit
  --collector-port <n>     the collector's port (default 8080)
  --shop-port <n>          the shop's first port; the services take n..n+6 (default 3000)
  --data-dir <dir>         where the collector's and the shop's databases go, replaced on
                           every run (default .raceway in the current directory)
  -h, --help               show this help
`;

/** @param {(message: string) => never} fail */
function build(fail) {
  const script = fileURLToPath(new URL('./build.sh', import.meta.url));
  // The build's progress goes to stderr, with the demo's, so that stdout is the summary alone.
  const result = spawnSync('bash', [script], { stdio: ['ignore', process.stderr, 'inherit'] });
  if (result.status !== 0) fail(`building the polyglot shop failed (bash ${script})`);
}

await runDemo({
  help: HELP,
  // Given when `pnpm demo --polyglot` hands over to this script.
  extraOptions: { polyglot: { type: 'boolean', default: true } },
  prepare: (progress, fail) => {
    progress('building the Python, Go and Rust services (scripts/build.sh)');
    build(fail);
  },
  shopName: 'the polyglot shop',
  startShop: startPolyglotShop,
  // A cold Python or Rust process takes longer to listen than a Node.js one.
  startTimeoutMs: 30_000,
  summary: {
    services: SERVICES,
    title: 'Raceway demo: the polyglot shop (TypeScript, Python, Go, Rust), traced and analysed',
  },
});
