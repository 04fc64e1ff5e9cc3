import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The SDK's native module misbehaves in worker threads; forks are separate processes.
    pool: 'forks',
    globalSetup: ['./test/global-setup.ts'],
    setupFiles: ['./test/setup-runtime.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
