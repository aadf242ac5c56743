import { defineProject } from 'vitest/config';
import { coreSourceAliases } from '../../tooling/vitest-core-sources.mjs';

export default defineProject({
  resolve: { alias: coreSourceAliases() },
  test: {
    name: 'pg',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/pg-global-setup.ts'],
    hookTimeout: 60_000,
  },
});
