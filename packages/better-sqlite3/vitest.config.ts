import { defineProject } from 'vitest/config';
import { coreSourceAliases } from '../../tooling/vitest-core-sources.mjs';

export default defineProject({
  resolve: { alias: coreSourceAliases() },
  test: { name: 'better-sqlite3', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
