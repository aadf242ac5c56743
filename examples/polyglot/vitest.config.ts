import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'example-polyglot',
    include: ['test/**/*.test.ts'],
    // The end-to-end test runs the collector and services in four languages as real processes:
    // the global setup builds the packages older than their sources, the virtualenv and the Go
    // and Rust binaries.
    globalSetup: ['test/build-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
  },
});
