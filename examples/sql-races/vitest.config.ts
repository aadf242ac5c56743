import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'example-sql-races',
    include: ['test/**/*.test.ts'],
    // The services run as real processes from the packages' builds (built first when older
    // than their sources); PostgreSQL is a throwaway cluster, the collector's own test helper
    // (skipped with the reason when there is none, unless RACEWAY_REQUIRE_PG=1).
    globalSetup: ['test/build-global-setup.ts', '../../packages/collector/test/pg-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
