import { defineConfig } from 'vitest/config';

/**
 * Four test projects, each runnable alone (`npm test -- --project unit`):
 * - unit: no network, in-memory stores;
 * - integration: DynamoDB Local and the S3 emulator (or AWS_ENDPOINT_URL…), handlers in-process;
 * - infra: CDK assertions, cdk-nag and the bundles;
 * - e2e: the local stack (or SLUICE_API_URL) over HTTP, the client, CLI, examples and the README.
 * The hermetic stack starts once for the projects that need it (test/support/hermeticStack.ts).
 */
const hermetic = ['test/support/hermeticStack.ts'];
const slow = { testTimeout: 240_000, hookTimeout: 240_000 };

export default defineConfig({
  test: {
    pool: 'forks',
    // Two cores: DynamoDB Local's JVM and the stacks need some of them.
    maxWorkers: 4,
    setupFiles: ['test/support/setup.ts'],
    coverage: {
      provider: 'v8',
      include: ['core/**', 'functions/**', 'infra/**', 'local/**', 'client/**'],
      reporter: ['text-summary', 'html'],
    },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 60_000 } },
      {
        extends: true,
        test: { name: 'integration', include: ['test/integration/**/*.test.ts'], globalSetup: hermetic, ...slow },
      },
      { extends: true, test: { name: 'infra', include: ['test/infra/**/*.test.ts'], ...slow } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], globalSetup: hermetic, ...slow } },
    ],
  },
});
