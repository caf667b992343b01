#!/usr/bin/env node
// The `sluice` command. The CLI is TypeScript run by Node 22's type stripping; on an older Node
// this re-runs it with the Node 22 binary that the project's npm dependencies carry.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'client', 'cli.ts');
const major = Number(process.versions.node.split('.')[0]);
const bundled = join(root, 'node_modules', 'node', 'bin', 'node');
const node = major >= 22 ? process.execPath : bundled;
if (node === bundled && !existsSync(bundled)) {
  console.error('sluice needs Node 22 or newer, or the project dependencies installed (npm ci).');
  process.exit(1);
}
const child = spawn(node, ['--no-warnings=ExperimentalWarning', cli, ...process.argv.slice(2)], { stdio: 'inherit' });
// Ctrl-C reaches the child from the terminal; wait for it to finish shutting down. Other signals are passed on.
process.on('SIGINT', () => {});
for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal === null ? 1 : constants.signals[signal])));
