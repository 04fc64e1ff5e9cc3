import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The SDK's native module misbehaves in worker threads; forks are separate processes.
    pool: 'forks',
    // Two files at a time even on 2 cores (vitest's default would be one: cores less one): most
    // files wait on servers and child processes, and the suite takes about two thirds of the time.
    // TTSYNC_TEST_WORKERS overrides it.
    maxWorkers: Number(process.env.TTSYNC_TEST_WORKERS) || Math.max(2, availableParallelism() - 1),
    globalSetup: ['./test/global-setup.ts'],
    setupFiles: ['./test/setup-runtime.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
