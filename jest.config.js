/** Three layers: unit (pure), workflow (real Temporal dev server), integration (Temporal + Postgres + emulators);
 * and replay: stored histories replayed on the current workflow code, in process.
 * One global setup starts the real services once for the whole run (see test/support/global-setup.ts). */
const tsJest = ['ts-jest', { isolatedModules: true, diagnostics: false }];
const common = { testEnvironment: 'node', transform: { '^.+\\.ts$': tsJest }, moduleFileExtensions: ['ts', 'js', 'json'] };
module.exports = {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 180000,
  // The Temporal SDK's native runtime keeps threads alive after the last worker stops.
  forceExit: true,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...common, displayName: 'emulators', testMatch: ['<rootDir>/emulators/**/*.test.ts', '<rootDir>/connectors/**/*.test.ts'] },
    { ...common, displayName: 'workflow', testMatch: ['<rootDir>/test/workflow/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    { ...common, displayName: 'replay', testMatch: ['<rootDir>/test/replay/**/*.test.ts'] },
  ],
};
