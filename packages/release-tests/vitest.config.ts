import { defineProject } from 'vitest/config';

// Runs after each SDK's own script in `pnpm test` (the Python virtualenv with `build`, the Go
// module cache and the Rust crates are in place by then); the npm packages are packed from the
// builds of the first step.
export default defineProject({
  test: {
    name: 'release',
    include: ['src/**/*.test.ts'],
    // Installing from tarballs compiles the SQLite driver, and each Rust fixture build compiles
    // the crate: minutes on a loaded 2-core machine.
    testTimeout: 600_000,
    hookTimeout: 900_000,
  },
});
