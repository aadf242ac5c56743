#!/usr/bin/env node
// `pnpm demo`: the collector, the six services of the example shop and some traffic, then a
// summary of what Raceway found. Keeps running until Ctrl-C; `--once` prints and exits.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runDemo } from '../src/demo-runner.mjs';

const HELP = `Usage: pnpm demo [-- options]   (or: node examples/shop/scripts/demo.mjs [options])

Starts a Raceway collector and the example shop (six services), sends traffic, waits for the
analysis and prints what Raceway found. Keeps running until Ctrl-C.

Options:
  --once                   print the summary and exit
  --collector-port <n>     the collector's port (default 8080)
  --shop-port <n>          the shop's first port; the services take n..n+5 (default 3000)
  --data-dir <dir>         where the collector's and the shop's databases go, replaced on
                           every run (default .raceway in the current directory)
  --polyglot               the same shop written in TypeScript, Python, Go and Rust
  -h, --help               show this help
`;

const PACKAGES = [
  '@raceway/core',
  '@raceway/express',
  '@raceway/koa',
  '@raceway/fastify',
  '@raceway/fetch',
  '@raceway/axios',
  '@raceway/collector',
];

/** The packages' builds, which the services import exactly as a user's app would. */
/** @param {(message: string) => never} fail */
function checkBuilt(fail) {
  const missing = PACKAGES.filter((name) => {
    try {
      return !existsSync(fileURLToPath(import.meta.resolve(name)));
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    fail(
      `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not built: run \`pnpm build\` first (\`pnpm demo\` does it for you), and \`pnpm install\` if that fails`,
    );
  }
}

// `pnpm demo --polyglot`: the same shop in four languages, with a demo script of its own.
if (process.argv.includes('--polyglot')) {
  await import('../../polyglot/scripts/demo.mjs');
} else {
  const { startShop } = await import('../src/launch.mjs');
  await runDemo({
    help: HELP,
    prepare: (_progress, fail) => checkBuilt(fail),
    shopName: 'the shop',
    startShop,
  });
}
