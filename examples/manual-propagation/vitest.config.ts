import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'example-manual-propagation',
    include: ['test/**/*.test.ts'],
    // Uses the built @raceway/core and @raceway/collector, as an application would: the shop's
    // global setup builds the packages older than their sources.
    globalSetup: ['../shop/test/build-global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
