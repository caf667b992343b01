// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/**
 * Lint: ESLint's and typescript-eslint's recommended rules with type information, so that
 * floating and misused promises, unused code and needless assertions are errors. Layout is
 * Prettier's (.prettierrc.json). `npm test` runs both checks; `npm run lint -- --fix` fixes what
 * it can.
 */
export default defineConfig(
  { ignores: ['node_modules/', 'cdk.out/', '.sluice/', 'coverage/', 'dist/', 'console/dist/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.cjs', 'bin/*.mjs', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // Untrusted input (HTTP bodies, DynamoDB items, synthesized templates) arrives untyped and is
      // checked field by field where it enters, raising typed errors; these rules would flag each
      // of those checks rather than find bugs.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // In-memory adapters and test doubles implement async ports without awaiting anything.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests read CloudFormation templates and JSON responses as `any`.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Plain JavaScript run by Node before dependencies or Node 22 are there.
    files: ['**/*.mjs', '**/*.cjs', '*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', module: 'writable', require: 'readonly' } },
  },
);
