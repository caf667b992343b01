import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONSOLE_DIST } from './consoleAssets.ts';

const root = resolve(import.meta.dirname, '..');
const consoleDir = join(root, 'console');

/** The console's sources: a build older than any of them is stale. */
function newestSource(): number {
  let newest = 0;
  const visit = (path: string) => {
    const stat = statSync(path);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const name of ['src', 'index.html', 'vite.config.ts', 'tsconfig.json']) {
    const path = join(consoleDir, name);
    if (existsSync(path)) visit(path);
  }
  return newest;
}

export function consoleBuildState(dist = CONSOLE_DIST): 'missing' | 'stale' | 'fresh' {
  const index = join(dist, 'index.html');
  if (!existsSync(index)) return 'missing';
  return statSync(index).mtimeMs < newestSource() ? 'stale' : 'fresh';
}

/**
 * Builds the console (vite build) when its build is missing or older than its sources, as
 * `npm start` and the browser tests need it. It builds into a folder of its own and then swaps
 * it in, so a server reading console/dist never sees half a build.
 */
export function ensureConsoleBuilt(log: (line: string) => void = console.log): 'built' | 'fresh' {
  const state = consoleBuildState();
  if (state === 'fresh') return 'fresh';
  log(`> building the web console (${state === 'missing' ? 'no build yet' : 'sources changed'})…`);
  const out = join(root, '.sluice', `console-build-${process.pid}`); // gitignored, on the same disk
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const result = spawnSync(
    process.execPath,
    [vite, 'build', '--config', join(consoleDir, 'vite.config.ts'), '--outDir', out, '--emptyOutDir'],
    // NODE_ENV decides what Vite and Preact's preset build: under vitest it is `test`, which would
    // bundle Preact's debug build. The console is always built for production.
    { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } },
  );
  if (result.status !== 0) {
    rmSync(out, { recursive: true, force: true });
    throw new Error(`Building the console failed (vite exited with ${result.status ?? result.signal})`);
  }
  // Another process (a test worker, npm start) may have built the same sources meanwhile: keep its build.
  if (consoleBuildState() === 'fresh') {
    rmSync(out, { recursive: true, force: true });
    return 'fresh';
  }
  // The old build moves aside in one rename and the new one takes its place in another, so a
  // server never serves an index.html whose assets are being deleted.
  const old = `${CONSOLE_DIST}.old-${process.pid}`;
  try {
    renameSync(CONSOLE_DIST, old);
  } catch {
    // no build yet, or another process moved it first
  }
  try {
    renameSync(out, CONSOLE_DIST);
  } catch (e) {
    rmSync(out, { recursive: true, force: true });
    if (consoleBuildState() !== 'fresh') throw e; // not a build that landed first
  } finally {
    rmSync(old, { recursive: true, force: true });
  }
  return 'built';
}
