import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'collector',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Starts a throwaway PostgreSQL cluster (or uses RACEWAY_TEST_PG_URL) for the PostgreSQL
    // storage suite, skipped with a reason when no PostgreSQL is installed; builds dist/ when it
    // is older than src/, because the CLI tests run the built `raceway` bin.
    globalSetup: ['test/pg-global-setup.ts', 'test/build-global-setup.ts'],
    // Every collector a test starts checks each answer against its route's response schema
    // (strict, closed objects) before serialising it: a mismatch answers 500
    // `response_does_not_match_schema` (src/api/response-check.ts).
    env: { RACEWAY_CHECK_RESPONSES: '1' },
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
