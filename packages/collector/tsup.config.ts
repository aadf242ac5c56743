import { racewayPackage } from '../../tooling/tsup.js';

// Two entry points share one bundle of the collector: the library (`startCollector`) and the
// `raceway` CLI. The CLI is emitted as ESM only with a shebang; the JSON schemas are inlined
// from src/schemas so the published package never reaches outside itself.
export default [
  racewayPackage(),
  racewayPackage({
    entry: { cli: 'src/cli.ts' },
    format: ['esm'],
    dts: false,
    clean: false,
    banner: { js: '#!/usr/bin/env node' },
  }),
];
