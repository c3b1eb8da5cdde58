import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2-core machines: spawned CLIs and servers do the real work; keep workers few.
    maxWorkers: 2,
    pool: 'forks',
    // The JSON report gives .ci/run its "N passed, N failed" summary line.
    reporters: ['default', 'json'],
    outputFile: {json: 'test-artifacts/vitest-report.json'},
  },
})
