import { racewayPackage } from '../../tooling/tsup.js';

// The library (`startCollector`, ESM and CJS), the `raceway` CLI (ESM, with a shebang) and the
// SQLite writer thread's script. The JSON schemas are inlined from src/schemas, so the
// published package never reaches outside itself.
export default [
  // shims: import.meta.url in the CommonJS build, which locates the writer thread's script.
  racewayPackage({ shims: true }),
  racewayPackage({
    // The SQLite writer thread's script sits beside the bundles that start it.
    entry: { cli: 'src/cli.ts', 'sqlite-writer-worker': 'src/storage/sqlite-writer-worker.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
    banner: { js: '#!/usr/bin/env node' },
  }),
];
