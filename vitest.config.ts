import { defineConfig } from 'vitest/config';

// Unit tests sit beside the code and need nothing running; integration tests under test/
// start real InfluxDB, the librdkafka mock cluster and the monasca CLI.
export default defineConfig({
  test: {
    // Integration tests start real servers; one file at a time keeps a 2-core machine responsive.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['core/**/*.test.ts', 'bus/**/*.test.ts', 'agent/**/*.test.ts', 'server/**/*.test.ts', 'alerting/**/*.test.ts', 'dashboards/**/*.test.ts', 'cmd/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
