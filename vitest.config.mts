import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    setupFiles: ['test/setup.ts'],
    // Handlers log JSON lines; tests that check logs capture them explicitly.
    env: { POWERTOOLS_LOG_LEVEL: 'SILENT' },
  },
});
