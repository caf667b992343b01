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
