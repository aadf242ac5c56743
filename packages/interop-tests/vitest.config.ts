import { defineProject } from 'vitest/config';

// Each language's SDK script (sdks/<language>/scripts/test.sh, run by `pnpm test` before vitest)
// builds the service binaries these tests start; the TypeScript side runs against the packages'
// builds, as an application would use them.
export default defineProject({
  test: {
    name: 'interop',
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
