import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../sluiceFunction.ts';

/**
 * Builds the console (`npm run build:console`, Vite, into `console/dist`) before the CDK app
 * deploys it: what `cdk synth` and `cdk deploy` run with `-c console=true`, whether started through
 * `npm run deploy` or `npx cdk`. Its output goes to stderr. Throws when the project has no such
 * script, naming what is missing.
 */
export function buildConsole(root: string = PROJECT_ROOT): void {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  if (pkg.scripts?.['build:console'] === undefined)
    throw new Error(
      'console=true deploys the web console, but package.json has no build:console script to build it (console/, issue 18); build it elsewhere and pass -c consoleBuild=false to deploy console/dist as it is',
    );
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '--silent', 'build:console'], {
    cwd: root,
    stdio: ['ignore', 2, 2],
    // Preact's production build, whatever the deployer's shell says (NODE_ENV=development ships its debug build).
    env: { ...process.env, NODE_ENV: 'production' },
  });
}
