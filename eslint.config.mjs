// ESLint 9 flat config: the recommended JavaScript and typescript-eslint rules, and import-x's
// no-cycle (file-level import cycles; the folder-level rule and the layers are in
// .dependency-cruiser.cjs). `npm run lint` runs both. Type-aware rules are not on: they need a
// full type program per run (tens of seconds on two cores), and `npm run typecheck` already runs.
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-artifacts/**', 'coverage/**', '.data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { globals: globals.node },
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
      'import-x/extensions': ['.ts', '.js'],
    },
    rules: {
      // Type-only imports count: a cycle of types is still two modules that cannot be understood apart.
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // Off outside src/: HTTP bodies and raw rows in tests and benches are read loosely on purpose.
      '@typescript-eslint/no-explicit-any': 'off',
      // Unused names are defects, except the ones named `_…` on purpose (an ignored parameter).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // The service's own code says what it handles: statements carry their row types
    // (database/statements.ts), JSON from outside is `unknown` until checked.
    files: ['src/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    // The build, bench and CI scripts are plain CommonJS run by node: require() is how they import.
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['**/*.mjs'], languageOptions: { globals: globals.node } },
);
