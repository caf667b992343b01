// Runs before `npm test`, `npm start` and `npm run bench` on whatever Node the machine has (20 is
// fine): installs the locked dependencies when they are missing or stale. They include the npm
// package `node@22`, whose binary npm then puts first on PATH for the script itself, so the
// project runs on Node 22 without anything installed by hand.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

const lock = 'package-lock.json';
const installed = 'node_modules/.package-lock.json';
const node22 = 'node_modules/.bin/node';

const stale = !existsSync(installed) || !existsSync(node22) || statSync(lock).mtimeMs > statSync(installed).mtimeMs;
if (stale) {
  console.log('> installing dependencies (npm ci)…');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
const version = spawnSync(node22, ['--version'], { encoding: 'utf8' }).stdout.trim();
if (!/^v(2[2-9]|[3-9]\d)\./.test(version)) {
  console.error(`Expected Node >= 22 at ${node22}, found ${version || 'nothing'}. Run: npm ci`);
  process.exit(1);
}

// `npm test` drives the web console in Debian's Chromium (test/e2e/console.test.ts). On a machine
// without it, as root with apt-get (this project's CI and development machines), install it, as
// `.ci/run` does; elsewhere say how, and the browser tests will say it again.
if (process.env.npm_lifecycle_event === 'pretest' && process.env.SLUICE_CHROMIUM === undefined) {
  if (!existsSync('/usr/bin/chromium')) {
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
    if (root && apt) {
      console.log("> installing Debian's chromium for the console's browser tests (apt-get install chromium)…");
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      const install =
        update.status === 0
          ? spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env })
          : update;
      if (install.status !== 0) console.warn('> could not install chromium: the console browser tests will fail');
    } else {
      console.warn(
        '> no /usr/bin/chromium: the console browser tests need it (sudo apt-get install chromium, or SLUICE_CHROMIUM=<path>)',
      );
    }
  }
}
