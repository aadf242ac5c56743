import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

// Against the sources of @raceway/core, as the propagation suites do: the tests see core as it is
// now, without a build in between (the root `pnpm test` also checks the built packages).
const core = (entry: string) => fileURLToPath(new URL(`../core/src/${entry}.ts`, import.meta.url));

export default defineProject({
  resolve: {
    alias: [
      { find: /^@raceway\/core$/, replacement: core('index') },
      { find: /^@raceway\/core\/integration$/, replacement: core('integration') },
    ],
  },
  test: {
    name: 'pg',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/pg-global-setup.ts'],
    hookTimeout: 60_000,
  },
});
