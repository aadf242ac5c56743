import { defineProject } from 'vitest/config';

export default defineProject({
  test: { name: 'fetch', include: ['src/**/*.test.ts', 'test/**/*.test.ts'] },
});
