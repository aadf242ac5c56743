import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'example-shop',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The end-to-end test runs the collector and the six services as real processes from the
    // packages' builds: the global setup builds the ones older than their sources.
    globalSetup: ['test/build-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
