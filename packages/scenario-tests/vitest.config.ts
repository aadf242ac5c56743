import { defineProject } from 'vitest/config';

// The scenarios run against the packages' builds, as an application would use them: run
// `pnpm build` first (the root command in README.md does).
export default defineProject({
  test: {
    name: 'scenarios',
    include: ['test/**/*.test.ts'],
    testTimeout: 15_000,
  },
});
