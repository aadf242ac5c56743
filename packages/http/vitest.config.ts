import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'http',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Real servers and a real collector on a machine that may be busy: generous, never timed.
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
