/**
 * `npm test`: the static checks (type-check, lint, format, dependency rules), then every vitest
 * project (unit, integration, infra, e2e; see vitest.config.ts). Arguments go to vitest and skip
 * the static checks: `npm test -- --project unit`, `npm test -- test/unit/crc32c.test.ts`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);

function run(label: string, script: string, scriptArgs: string[]): Promise<number> {
  console.log(`# ${label}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...scriptArgs], { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

if (args.length === 0) {
  const checks: [string, string, string[]][] = [
    ['type-check', 'node_modules/typescript/bin/tsc', ['-p', '.']],
    // The web console is a browser program (DOM, JSX): its own tsconfig, checked the same way.
    ['type-check (console)', 'node_modules/typescript/bin/tsc', ['-p', 'console']],
    ['lint', 'node_modules/eslint/bin/eslint.js', ['--max-warnings', '0', '.']],
    ['format', 'node_modules/prettier/bin/prettier.cjs', ['--check', '--log-level', 'warn', '.']],
    [
      'dependency rules',
      'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs',
      ['--config', '.dependency-cruiser.cjs', 'core', 'functions', 'infra', 'local', 'client', 'console/src'],
    ],
  ];
  for (const [label, script, scriptArgs] of checks) {
    if ((await run(label, script, scriptArgs)) !== 0) process.exit(1);
  }
}
// Node 22's binary runs vitest (npm puts the `node` package first on PATH for npm scripts). A JSON
// report beside the console one gives the plain closing line: `N passed, N failed, N skipped`.
const report = join('.sluice', `vitest-report-${process.pid}.json`); // per run: runs may overlap
rmSync(report, { force: true });
const reporters = ['--reporter=default', '--reporter=json', `--outputFile.json=${report}`];
const code = await run('vitest', 'node_modules/vitest/vitest.mjs', ['run', ...reporters, ...args]);
if (existsSync(report)) {
  const totals = JSON.parse(readFileSync(report, 'utf8')) as Record<string, number>;
  const skipped = (totals.numPendingTests ?? 0) + (totals.numTodoTests ?? 0);
  console.log(`\n${totals.numPassedTests} passed, ${totals.numFailedTests} failed, ${skipped} skipped`);
  rmSync(report, { force: true });
}
process.exit(code);
