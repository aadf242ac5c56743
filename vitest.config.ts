import { defineConfig } from 'vitest/config';

// One vitest run covers every package: unit tests live beside the code (src/**/*.test.ts),
// real-server and cross-package tests in each package's test/ folder, end-to-end tests in
// examples/*/test.
export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*'],
  },
});
