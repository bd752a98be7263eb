// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.esbuild/', '.esbuild-*/', '.serverless/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Every .ts/.mts file is in tsconfig.json; the root .mjs files (this one) are not, so
        // they get TypeScript's default project.
        projectService: { allowDefaultProject: ['*.mjs', 'cli/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      'no-console': 'off',
    },
  },
  {
    // The product never depends on the development tooling, the benchmarks or the tests.
    files: ['functions/**', 'lib/**', 'cli/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(local|bench|test)(/|$)',
              message:
                'functions/, lib/ and cli/ are the product: they must not import local/, bench/ or test/.',
            },
          ],
        },
      ],
    },
  },
);
