import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

// The suites run against the packages' sources, so they test the code as it is now without a
// build step in between (the root `pnpm test` also checks the built packages with publint/attw).
const source = (name: string, entry = 'index') =>
  fileURLToPath(new URL(`../${name}/src/${entry}.ts`, import.meta.url));
const exactly = (specifier: string) => new RegExp(`^${specifier.replace('/', '\\/')}$`);

export default defineProject({
  resolve: {
    // Exact matches: '@raceway/core' must not also rewrite '@raceway/core/integration'.
    alias: [
      { find: exactly('@raceway/core'), replacement: source('core') },
      { find: exactly('@raceway/core/integration'), replacement: source('core', 'integration') },
      ...['express', 'koa', 'fastify', 'fetch', 'axios'].map((name) => ({
        find: exactly(`@raceway/${name}`),
        replacement: source(name),
      })),
    ],
  },
  test: {
    name: 'propagation',
    include: ['src/**/*.test.ts'],
    testTimeout: 15_000,
  },
});
