/**
 * `npm test`: the static checks (type-check, lint, format, dependency rules), then every vitest
 * project (unit, integration, infra, e2e; see vitest.config.ts). Arguments go to vitest and skip
 * the static checks: `npm test -- --project unit`, `npm test -- test/unit/crc32c.test.ts`.
 */
import { spawn, spawnSync } from 'node:child_process';
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
// The web console's browser tests (test/e2e/console.test.ts) drive Debian's Chromium. A run that
// may include them (the whole suite, the e2e project, that file) on a machine without it installs
// it where it can (as root with apt-get, as .ci/run does) and otherwise says how.
const mayRunBrowserTests =
  args.length === 0 || args.some((a) => /e2e|console/.test(a)) || !args.some((a) => /^--project|\.test\.ts$/.test(a));
if (mayRunBrowserTests && process.env.SLUICE_CHROMIUM === undefined && !existsSync('/usr/bin/chromium')) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get']).status === 0;
  if (root && apt) {
    console.log("# installing Debian's chromium for the console's browser tests (apt-get install chromium)");
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const install =
      update.status === 0
        ? spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env })
        : update;
    if (install.status !== 0) console.warn('# could not install chromium: the console browser tests will fail');
  } else {
    console.warn(
      '# no /usr/bin/chromium: the console browser tests need it (sudo apt-get install chromium, or SLUICE_CHROMIUM=<path>)',
    );
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
