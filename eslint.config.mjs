// Only the rules that keep the process alive: a promise nobody awaits or
// catches becomes an unhandled rejection, and Node ends the process on one.
// (Style is left to review and docs/architecture.md; the types to tsc.)
import tseslint from 'typescript-eslint';

/** Type-aware parsing (each file by its nearest tsconfig) and the promise rules. */
const promiseRules = (misusedPromises) => ({
  languageOptions: {
    parser: tseslint.parser,
    parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
  },
  plugins: { '@typescript-eslint': tseslint.plugin },
  rules: {
    '@typescript-eslint/no-floating-promises': 'error',
    '@typescript-eslint/no-misused-promises': misusedPromises,
  },
});

export default [
  {
    files: ['src/**/*.ts'],
    // node:test's describe() and it() return promises the runner awaits.
    ignores: ['src/**/*.test.ts'],
    ...promiseRules('error'),
  },
  // The web console (console/, its own tsconfig): the same rules, but an async
  // event handler given to JSX is how Preact code is written (each catches
  // what it awaits); a promise nobody handles still shows in the browser test.
  {
    files: ['console/**/*.ts', 'console/**/*.tsx'],
    ...promiseRules(['error', { checksVoidReturn: { attributes: false } }]),
  },
];
