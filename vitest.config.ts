import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real sockets and child processes: a slow CI machine needs more than the 5 s default.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Two cores: the streaming and CLI tests spawn processes; keep parallelism modest.
    maxWorkers: 2,
  },
});
