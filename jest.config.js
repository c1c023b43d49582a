/**
 * Jest runs in native ESM mode (node --experimental-vm-modules, see package.json):
 * bpmn-engine, bpmn-elements, bpmn-moddle, PGlite and feelin are ES modules, so
 * nothing in node_modules is transformed. swc strips the types from our own .ts.
 */
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
  // Most files start a whole app (migrations, workers) in beforeAll: 30 s was too tight on a
  // loaded 2-core machine once the migrations and worker threads grew.
  testTimeout: 60000,
};
