// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['eslint.config.mjs', 'dist/**', 'node_modules/**', '.data/**', 'coverage/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflows must be deterministic: no I/O and no Node built-ins, and activities are
    // imported only as types (the bundler would otherwise pull their Node code in).
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflows are deterministic: no Node built-ins.' })),
          patterns: [
            {
              group: ['**/activities', '**/activities/**', '../activities*'],
              allowTypeImports: true,
              message: 'Workflows import activities as types only (import type …); call them through proxyActivities.',
            },
            {
              regex: '(^|/)src/(?!config/|temporal/searchAttributes$|temporal/taskQueues$|tiktok/errorTypes$|tiktok/types$|tiktok/limits$)',
              allowTypeImports: true,
              message: 'Workflows may import only pure modules of src/ (config, search attributes, task queues, TikTok error type names, request types and limits).',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'Workflows are deterministic: no process.' },
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use sleep() in a loop from @temporalio/workflow.' },
        { name: 'fetch', message: 'Workflows do no I/O: call an activity.' },
        { name: 'require', message: 'Workflows use static imports only.' },
      ],
    },
  },
);
