import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'example-quickstart',
    include: ['test/**/*.test.ts'],
    // Runs the services against the built packages, as an application would: the shop's global
    // setup builds the packages older than their sources.
    globalSetup: ['../shop/test/build-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
