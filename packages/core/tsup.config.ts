import { racewayPackage } from '../../tooling/tsup.js';

export default racewayPackage({
  entry: ['src/index.ts', 'src/integration.ts'],
  // Both entry points must share one copy of the module state (the AsyncLocalStorage, the
  // transports registry): code splitting puts it in a shared chunk, for CommonJS too.
  splitting: true,
  // With tree shaking tsup splits the CommonJS build with rollup; without it, with sucrase,
  // which rewrites every `?.` and `??` into helper calls that allocate an array and closures:
  // on the path of every recorded event, for every CommonJS application.
  treeshake: true,
});
