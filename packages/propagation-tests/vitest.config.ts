import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

// The suites run against the packages' sources, so they test the code as it is now without a
// build step in between (the root `pnpm test` also checks the built packages with publint/attw).
const source = (name: string) => fileURLToPath(new URL(`../${name}/src/index.ts`, import.meta.url));

export default defineProject({
  resolve: {
    alias: {
      '@raceway/core': source('core'),
      '@raceway/express': source('express'),
      '@raceway/koa': source('koa'),
      '@raceway/fastify': source('fastify'),
      '@raceway/fetch': source('fetch'),
      '@raceway/axios': source('axios'),
    },
  },
  test: {
    name: 'propagation',
    include: ['src/**/*.test.ts'],
    testTimeout: 15_000,
  },
});
