import { defineProject } from 'vitest/config';
import { coreSourceAliases } from '../../tooling/vitest-core-sources.mjs';

export default defineProject({
  resolve: { alias: coreSourceAliases() },
  test: {
    name: 'mysql2',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Starts a throwaway MariaDB (or MySQL) server, or uses RACEWAY_TEST_MYSQL_URL; skipped with
    // the reason when none is installed, unless RACEWAY_REQUIRE_MYSQL=1.
    globalSetup: ['test/mariadb-global-setup.ts'],
    hookTimeout: 60_000,
  },
});
