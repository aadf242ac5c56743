import { defineConfig, type Options } from 'tsup';

/**
 * The one build setup every @raceway package uses: dual ESM/CJS with type declarations for
 * both module systems, so `import` and `require` consumers get matching types (checked by
 * publint and arethetypeswrong in the test run).
 */
export function racewayPackage(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    // Workspace packages stay external: each is published and versioned on its own.
    skipNodeModulesBundle: true,
    ...overrides,
  });
}
