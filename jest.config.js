/**
 * Jest runs in native ESM mode (node --experimental-vm-modules, see package.json):
 * bpmn-engine, bpmn-elements, bpmn-moddle, PGlite and feelin are ES modules, so
 * nothing in node_modules is transformed. swc strips the types from our own .ts.
 */
import { readFileSync } from 'node:fs';

/**
 * The files in test/database-independent.json never use the database a run is given: units,
 * diagrams, commands, and two that run on the embedded PGlite by design (`DATABASE_URL: ''`).
 * A run on PostgreSQL (DATABASE_URL) leaves them to the PGlite run instead of repeating the
 * same work; CI runs both side by side. test/unit/database-independent.test.ts checks that
 * each listed file still needs no server.
 */
const databaseIndependent = JSON.parse(readFileSync(new URL('./test/database-independent.json', import.meta.url), 'utf8'));

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'es6' },
      },
    ],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', ...(process.env.DATABASE_URL ? databaseIndependent.map((path) => `<rootDir>/${path}`) : [])],
  // Most files start a whole app (migrations, workers) in beforeAll: 30 s was too tight on a
  // loaded 2-core machine once the migrations and worker threads grew.
  testTimeout: 60000,
  // Jest's module registries leak in ESM mode (about 25 MB a file here): after 90 files the one
  // process held 6.7 GB and every garbage collection slowed the suite. A worker past 1 GB after
  // a file is replaced by a fresh one (this also makes jest use a worker with one core free).
  workerIdleMemoryLimit: '1GB',
};
