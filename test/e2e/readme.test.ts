import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Admin, PartitionConsumer, Producer } from '../../client/index.ts';
import { useApi } from '../support/e2e.ts';

/**
 * Every shell command in the README works as written. The README's ```sh blocks are split into
 * commands, and each one is either run here, or skipped for a stated reason, by COMMANDS below: a
 * command that is neither fails the test, so a new one cannot go untested unnoticed.
 *
 * Commands run in README order with bash, from the repository root, with the project's Node 22
 * first on PATH (so `node` and `npx sluice` are the project's), against a local stack: the README's
 * http://127.0.0.1:7070 becomes the stack's URL in the command, and SLUICE_URL points the CLI and
 * the examples at it. Each must exit as listed and write nothing to stderr but its listed output;
 * most also have their output checked, so a command that silently does nothing fails.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const README_URL = 'http://127.0.0.1:7070';

/** A stack the commands run against: its URL and, for `npm start`'s, the DynamoDB Local port it printed. */
interface Stack {
  readonly url: string;
  readonly dynamoPort?: string;
}

interface Output {
  readonly stdout: string;
  readonly stderr: string;
  /** The exit code; undefined when the test stopped the command. */
  readonly code?: number;
  /** Why the test stopped it: a bounded command became ready, or a command ran too long. */
  readonly stopped?: 'ready' | 'timeout';
}

interface Run {
  /**
   * Which stack: `api` is this file's local stack (useApi: its own tables on the test DynamoDB);
   * `npm start` is the start script run by this test (startLikeNpmStart), with its own DynamoDB Local.
   */
  readonly on: 'api' | 'npm start';
  /** When the command's exit code is not 0 by design, and why. */
  readonly exit?: { readonly code: number; readonly why: string };
  /** Lines on stderr that are the command's output, not errors. */
  readonly stderr?: RegExp;
  /**
   * A file (relative to the repository) the command writes: moved aside while it runs and put back
   * after, so the test neither reads a stale one nor leaves one behind.
   */
  readonly keepAside?: string;
  /** For commands that run until stopped (Ctrl-C): when they count as working, then they are stopped. */
  readonly bounded?: {
    readonly why: string;
    readonly ready: (out: Output, stack: Stack) => boolean | Promise<boolean>;
    /** Called every POKE_MS while not ready (e.g. to give a tail something to print). */
    readonly poke?: (stack: Stack) => Promise<void>;
    readonly withinMs: number;
  };
  readonly check?: (out: Output, stack: Stack) => void | Promise<void>;
}

type Entry = { readonly prefix: string; readonly skip: string } | { readonly prefix: string; readonly run: Run };

const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');
const TAIL_MARKER = 'tailed by --follow';

async function recordCount(url: string, topic: string): Promise<number> {
  const { partitions } = await new Admin({ url }).describeTopic(topic);
  return partitions.reduce((n, p) => n + p.highWatermark - p.logStartOffset, 0);
}

/** Each record of the topic as [key, event type]. */
async function keysAndTypes(url: string, topic: string): Promise<unknown[][]> {
  const { partitions } = await new Admin({ url }).describeTopic(topic);
  const records = [];
  for (const { partition } of partitions) {
    const consumer = new PartitionConsumer({ url, topic, partition, autoOffsetReset: 'earliest', waitMs: 0 });
    for (let batch = await consumer.poll(); batch.length > 0; batch = await consumer.poll()) records.push(...batch);
  }
  return records.map((r) => [r.key, r.headers['sluice-event-type']]);
}

/**
 * The README's shell commands, keyed by how they begin (the longest matching prefix wins, and it
 * may not end inside a word of the command). Reviewed by hand: a command the README gains needs an
 * entry here, with a check of what it prints or a reason to skip it.
 */
const COMMANDS: readonly Entry[] = [
  // "Two commands"
  { prefix: 'npm start', skip: 'starts the stack: this test runs its script itself (startLikeNpmStart)' },
  { prefix: 'npm test', skip: 'runs the whole suite, this test included' },
  { prefix: 'npm run bench', skip: 'benchmarks: minutes of load, with no output the README promises exactly' },

  // "Web console"
  {
    prefix: 'npm run build:console',
    skip: 'rebuilds console/dist while the browser tests serve it; npm start and the browser tests build it when stale, so the build runs there',
  },
  {
    prefix: 'npm test -- test/e2e/console.test.ts',
    skip: 'the browser tests, which this suite already runs',
  },
  {
    prefix: 'npm run bench -- --only console',
    skip: 'starts its own stack and Chromium for 15 s; the browser tests load the same pages, and test/unit/bench.console.test.ts checks what it counts',
  },

  // "Try it", in order, on this file's stack
  {
    prefix: `curl -s -X POST ${README_URL}/v1/topics -d '{"name":"orders","partitions":3`,
    run: {
      on: 'api',
      check: (out) => {
        const topic = JSON.parse(out.stdout) as {
          name: string;
          partitions: unknown[];
          config: { compression: string };
        };
        expect([topic.name, topic.partitions.length, topic.config.compression]).toStrictEqual(['orders', 3, 'zstd']);
      },
    },
  },
  {
    prefix: `npx sluice produce orders '{"key":"user-1"`,
    run: { on: 'api', check: (out) => expect(out.stdout.trim()).toMatch(/^orders\[[0-2]\] @ 0$/) },
  },
  {
    prefix: `seq 1 1000 | sed 's/.*/{"key":"user-&","value":{"n":&}}/' | npx sluice produce orders`,
    run: { on: 'api', check: (out) => expect(out.stdout.trim()).toBe('Produced 1000 records to orders') },
  },
  {
    prefix: 'npx sluice consume orders --from-beginning',
    run: {
      on: 'api',
      check: (out) => {
        const printed = lines(out.stdout);
        expect(printed.length, 'the one record, then the thousand').toBe(1001);
        for (const line of printed) expect(line).toMatch(/^orders\[[0-2]\] @ \d+ {2}\S+ {2}key=user-\d+ {2}/);
        expect(printed.filter((l) => l.endsWith('{"orderId":"o-1","total":42}')).length).toBe(1);
      },
    },
  },
  {
    prefix: 'npx sluice consume orders --partition 0 --follow',
    run: {
      on: 'api',
      bounded: {
        why: 'tails partition 0 from its end until Ctrl-C: it works once a record produced there is printed',
        poke: async (stack) => {
          const producer = new Producer({ url: stack.url });
          await producer.send('orders', { value: TAIL_MARKER, partition: 0 });
          await producer.close();
        },
        ready: (out) => out.stdout.includes(TAIL_MARKER),
        withinMs: 45_000,
      },
      check: (out) => {
        const tailed = new RegExp(`^orders\\[0\\] @ \\d+ .*key=- {2}${TAIL_MARKER}$`);
        for (const line of lines(out.stdout)) expect(line).toMatch(tailed);
      },
    },
  },
  {
    prefix: 'npx sluice topics describe orders',
    run: {
      on: 'api',
      check: (out) => {
        expect(out.stdout).toMatch(/^Topic orders \(id \w+\)$/m);
        expect(out.stdout).toMatch(/^Config .*compression=zstd/m);
        // PARTITION, LOG START, HIGH WATERMARK, then the last stable offset and open transactions.
        const rows = [...out.stdout.matchAll(/^(\d+) +(\d+) +(\d+) +(\d+) +-$/gm)];
        expect(
          rows.map((r) => r[1]),
          'three partitions',
        ).toStrictEqual(['0', '1', '2']);
        expect(rows.reduce((n, r) => n + Number(r[3]), 0)).toBeGreaterThan(1001);
      },
    },
  },
  {
    prefix:
      'npx sluice example order-events-producer --topic order-events --count 20 --bad-every 7 && ' +
      'npx sluice example order-events-consumer --topic order-events --until-idle',
    run: {
      on: 'api',
      // The consumer keeps its offsets in .sluice/offsets/order-processor.json under the working directory.
      keepAside: '.sluice/offsets/order-processor.json',
      // Every 7th order has a negative amount: the consumer dead-letters it, by design.
      stderr: /^Processing failed: invalid amount -?[\d.]+ for \S+, sending to DLQ$/,
      check: async (out, stack) => {
        const printed = lines(out.stdout);
        expect(printed.filter((l) => /^Delivered to order-events\[[0-2]\] @ offset \d+$/.test(l)).length).toBe(20);
        expect(printed.filter((l) => /^Processed order-\d+ for user-\d: [\d.]+$/.test(l)).length).toBe(18);
        expect(lines(out.stderr).length, 'orders 7 and 14').toBe(2);
        expect(await recordCount(stack.url, 'order-events.DLQ')).toBe(2);
      },
    },
  },

  // "Deploy to AWS" and "LocalStack"
  { prefix: 'npx cdk', skip: 'needs an AWS account' },
  { prefix: 'npm run deploy', skip: 'needs an AWS account' },
  { prefix: 'npm run deploy:local', skip: 'needs LocalStack (Docker and an auth token)' },
  { prefix: 'aws cognito-idp admin-create-user', skip: 'needs an AWS account (a stack deployed with the console)' },
  { prefix: 'npm run test:localstack', skip: 'needs LocalStack (Docker and an auth token)' },
  { prefix: 'SLUICE_API_URL=', skip: 'runs the tests against a deployed stack (AWS or LocalStack)' },

  // "Development"
  {
    prefix: 'npm test -- test/unit/crc32c.test.ts',
    run: {
      on: 'api',
      stderr: /./, // the tests' own log lines; the verdict is the exit code and the closing line
      check: (out) => expect(out.stdout).toMatch(/^1 passed, 0 failed, 0 skipped$/m),
    },
  },
  {
    prefix: 'npm test -- --project unit',
    skip: 'runs the unit project again, which this suite already runs (minutes on 2 cores, and it timed out under CI load); the one-file command above checks that arguments reach vitest',
  },
  { prefix: 'npm run test:watch', skip: 'watch mode: runs until stopped, and reruns tests this suite already runs' },
  { prefix: 'npm run coverage', skip: 'runs the whole suite again, with coverage' },
  { prefix: 'npm run lint', skip: '`npm run format` rewrites the checkout; npm test runs the lint and format checks' },

  // "Sagas", in order, on `npm start`'s stack
  {
    prefix: 'npx sluice example order-saga/seed --endpoint http://127.0.0.1:<dynamodb port>',
    run: {
      on: 'npm start',
      check: (out) => {
        expect(out.stdout).toMatch(
          /OrderSagaInventory\w*: sku-1 stock 100; \S*OrderSagaPayments\w*: c-1 balance 100000$/m,
        );
      },
    },
  },
  {
    prefix: `npx sluice sagas start order '{"orderId":"o-1",`,
    run: {
      on: 'npm start',
      check: (out) => {
        expect(out.stdout).toMatch(/^Saga order execution o-1: SUCCEEDED$/m);
        for (const step of ['ReserveInventory', 'ChargePayment', 'ShipOrder']) {
          expect(out.stdout).toMatch(new RegExp(`^${step} +succeeded$`, 'm'));
        }
      },
    },
  },
  {
    prefix: `npx sluice sagas start order '{"orderId":"o-2",`,
    run: {
      on: 'npm start',
      exit: { code: 1, why: 'o-2 has no address, so the saga aborts, and --wait exits 1 for any end but SUCCEEDED' },
      check: (out) => {
        expect(out.stdout).toMatch(/^Saga order execution o-2: ABORTED \(failed at ShipOrder\)$/m);
        for (const step of ['ReserveInventory', 'ChargePayment']) {
          expect(out.stdout).toMatch(new RegExp(`^${step} +compensated$`, 'm'));
        }
      },
    },
  },
  {
    prefix: 'npx sluice consume sagas.order --from-beginning',
    run: {
      on: 'npm start',
      check: (out) => {
        const events = (key: string) =>
          lines(out.stdout)
            .filter((l) => l.includes(`key=${key} `))
            .map((l) => /sluice-saga-event=([\w-]+)/.exec(l)?.[1]);
        const succeeded = 'step-succeeded';
        expect(events('o-1')).toStrictEqual(['started', succeeded, succeeded, succeeded, 'completed']);
        expect(events('o-2').at(0)).toBe('started');
        expect(events('o-2')).toContain('step-failed');
        expect(events('o-2').at(-1)).toBe('aborted');
      },
    },
  },
  {
    prefix: 'npx sluice example order-saga/choreography',
    run: {
      on: 'npm start',
      bounded: {
        why: 'services that run until Ctrl-C: they work once the notifier has announced how the two sagas above ended',
        ready: async (out, stack) =>
          out.stdout.includes('checkout and notifier are running') &&
          (await recordCount(stack.url, 'notifications')) >= 2,
        withinMs: 60_000,
      },
      check: async (_out, stack) => {
        expect(await keysAndTypes(stack.url, 'notifications')).toStrictEqual([
          ['o-1', 'OrderConfirmed'],
          ['o-2', 'OrderCancelled'],
        ]);
      },
    },
  },
];

// ---- Reading the README's shell blocks ---------------------------------------------------------

interface Command {
  /** Where it starts in README.md (1-based). */
  readonly line: number;
  readonly text: string;
}

/** The line without its `# comment`: a # that starts a word outside quotes, as bash reads it. */
function withoutComment(line: string): string {
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
    } else if (c === '\\') i++;
    else if (quote === '"') {
      if (c === '"') quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i).trimEnd();
  }
  // Quotes across lines would need a real shell parser; the README has none.
  if (quote !== undefined) throw new Error(`Unterminated ${quote} in a README command: ${line}`);
  return line.trimEnd();
}

/** The commands of each ```sh block, in order: one a line, lines ending in a backslash joined. */
function shellBlocks(markdown: string): { line: number; commands: Command[] }[] {
  const blocks: { line: number; commands: Command[] }[] = [];
  let fence: 'sh' | 'other' | undefined;
  let pending: Command | undefined;
  for (const [i, raw] of markdown.split('\n').entries()) {
    const marker = /^```(.*)$/.exec(raw.trim());
    if (marker !== null) {
      if (pending !== undefined) throw new Error(`README.md:${pending.line}: a command continues past its block`);
      if (fence !== undefined) fence = undefined;
      else {
        fence = marker[1]!.trim() === 'sh' ? 'sh' : 'other';
        if (fence === 'sh') blocks.push({ line: i + 1, commands: [] });
      }
      continue;
    }
    if (fence !== 'sh') continue;
    const code = withoutComment(raw);
    const text = pending === undefined ? code.trim() : `${pending.text} ${code.trim()}`;
    const line = pending?.line ?? i + 1;
    if (text.endsWith('\\')) pending = { line, text: text.slice(0, -1).trimEnd() };
    else {
      pending = undefined;
      if (text !== '') blocks.at(-1)!.commands.push({ line, text });
    }
  }
  return blocks;
}

function entryFor(text: string): Entry | undefined {
  // `npm run deploy` does not fit `npm run deploy:local`: a prefix may not end inside a word.
  const word = /[\w:.-]/;
  const fits = (prefix: string) =>
    text.startsWith(prefix) && !(word.test(prefix.at(-1)!) && word.test(text[prefix.length] ?? ' '));
  return COMMANDS.filter((e) => fits(e.prefix)).sort((a, b) => b.prefix.length - a.prefix.length)[0];
}

// ---- Running commands ----------------------------------------------------------------------------

/** The test process's own settings (the test stack's endpoints and tables) are not a user's shell's. */
const TEST_ONLY_ENV = /^(AWS_|SLUICE_|POWERTOOLS_|VITEST)/;

function commandEnv(url: string | undefined): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !TEST_ONLY_ENV.test(k)));
  return {
    ...env,
    // The project's Node 22 first, as npm scripts have it: `node` and `npx` (a Node script) run on it.
    PATH: [dirname(process.execPath), join(ROOT, 'node_modules', '.bin'), process.env.PATH].join(delimiter),
    // npx must find `sluice` in this checkout, never fetch a package of that name.
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
    ...(url === undefined ? {} : { SLUICE_URL: url }),
  };
}

type Shell = ChildProcess & { readonly output: { stdout: string; stderr: string } };

function spawnShell(command: string, env: NodeJS.ProcessEnv): Shell {
  // Its own process group, so that stopping it stops everything it started (npx, the CLI, the example).
  const child = spawn('bash', ['-c', command], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output.stderr += d));
  return Object.assign(child, { output });
}

const closed = (child: ChildProcess): Promise<number> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? 128);
    else child.on('close', (code) => resolve(code ?? 128));
  });

async function stopGroup(child: ChildProcess): Promise<void> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const done = closed(child);
  const timer = setTimeout(() => signal('SIGKILL'), 10_000);
  await done;
  clearTimeout(timer);
  signal('SIGKILL'); // anything that outlived its parent
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const COMMAND_TIMEOUT_MS = 150_000;
const POKE_MS = 1500;

async function runCommand(text: string, run: Run, stack: Stack): Promise<Output> {
  const child = spawnShell(text, commandEnv(stack.url));
  let code: number | undefined;
  const exited = closed(child).then((c) => (code = c));
  if (run.bounded === undefined) {
    let timedOut = false;
    const timer = setTimeout(() => void ((timedOut = true), stopGroup(child)), COMMAND_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    return { ...child.output, ...(timedOut ? { stopped: 'timeout' } : { code }) };
  }
  const deadline = Date.now() + run.bounded.withinMs;
  let poked = Date.now();
  for (;;) {
    await sleep(250);
    if (code !== undefined) return { ...child.output, code };
    const ready = await Promise.resolve(run.bounded.ready({ ...child.output }, stack)).catch(() => false);
    if (ready || Date.now() > deadline) {
      const output = { ...child.output, stopped: ready ? ('ready' as const) : ('timeout' as const) };
      await stopGroup(child);
      return output;
    }
    if (run.bounded.poke !== undefined && Date.now() - poked > POKE_MS) {
      await run.bounded.poke(stack);
      poked = Date.now();
    }
  }
}

async function keepingAside<T>(path: string | undefined, body: () => Promise<T>): Promise<T> {
  if (path === undefined) return body();
  const file = join(ROOT, path);
  const saved = existsSync(file) ? readFileSync(file) : undefined;
  const created: string[] = [];
  for (let dir = dirname(file); dir.length > ROOT.length && !existsSync(dir); dir = dirname(dir)) created.push(dir);
  rmSync(file, { force: true });
  try {
    return await body();
  } finally {
    rmSync(file, { force: true });
    if (saved !== undefined) writeFileSync(file, saved);
    for (const dir of created) {
      try {
        rmdirSync(dir); // only if empty: something else may have put files there meanwhile
      } catch {
        break;
      }
    }
  }
}

/**
 * What `npm start -- --in-memory --port 0` runs: package.json's start script, without the prestart
 * dependency check (which may run `npm ci`). The saga commands need this stack rather than the
 * file's: `order-saga/seed` finds the order tables by name in the DynamoDB it is given, and the
 * shared test DynamoDB also holds the saga test files' tables of the same names.
 */
async function startLikeNpmStart(): Promise<Stack & { stop(): Promise<void> }> {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const child = spawnShell(`${scripts.start} --in-memory --port 0 --tiering-interval 0`, commandEnv(undefined));
  const banner = /Sluice is running at (\S+)\n\s+DynamoDB Local\s+http:\/\/127\.0\.0\.1:(\d+)/;
  try {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const match = banner.exec(child.output.stdout);
      if (match !== null) {
        // The saga trigger's metrics keep coming on stdout: stop keeping them.
        child.stdout!.removeAllListeners('data').resume();
        return { url: match[1]!, dynamoPort: match[2]!, stop: () => stopGroup(child) };
      }
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}: ${child.output.stderr}`);
      if (Date.now() > deadline) throw new Error(`npm start printed no address: ${JSON.stringify(child.output)}`);
      await sleep(200);
    }
  } catch (e) {
    await stopGroup(child);
    throw e;
  }
}

// ---- The tests -----------------------------------------------------------------------------------

const blocks = shellBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
const runOf = (c: Command): Run | undefined => {
  const entry = entryFor(c.text);
  return entry !== undefined && 'run' in entry ? entry.run : undefined;
};
// The README's commands are for `npm start`'s stack (no auth): against a deployed one they are only classified.
const deployed = process.env.SLUICE_API_URL !== undefined;
const api = useApi('readme');
let npmStart: Promise<Stack & { stop(): Promise<void> }> | undefined;

beforeAll(() => {
  if (deployed || !blocks.some((b) => b.commands.some((c) => runOf(c)?.on === 'npm start'))) return;
  // Started now and awaited by the first command that needs it: it boots while the others run.
  npmStart = startLikeNpmStart();
  npmStart.catch(() => {});
});
afterAll(async () => {
  await (await npmStart?.catch(() => undefined))?.stop();
});

it('reads the README shell blocks as bash would', () => {
  expect(withoutComment(`npm test     # type-check, unit`)).toBe('npm test');
  const kept = `echo '# kept' "a # kept" b#kept \\# kept`;
  expect(withoutComment(`${kept} # gone`)).toBe(kept);
  expect(shellBlocks('```sh\na \\\n  b  # c\n```\n```ts\nx\n```\n```sh\n# only a comment\n```')).toStrictEqual([
    { line: 1, commands: [{ line: 2, text: 'a b' }] },
    { line: 8, commands: [] },
  ]);
});

it('runs or skips, for a stated reason, every shell command in the README', () => {
  const commands = blocks.flatMap((b) => b.commands);
  expect(commands.length, 'the README has shell blocks').toBeGreaterThan(10);
  const unclassified = commands
    .filter((c) => entryFor(c.text) === undefined)
    .map((c) => `README.md:${c.line}: ${c.text}`);
  const hint = 'add these to COMMANDS in test/e2e/readme.test.ts: run (and how to check) or skip (and why)';
  expect(unclassified, hint).toStrictEqual([]);
  const used = new Set(commands.map((c) => entryFor(c.text)));
  const unused = COMMANDS.filter((e) => 'run' in e && !used.has(e)).map((e) => e.prefix);
  expect(unused, 'run entries that match no README command any more').toStrictEqual([]);
  for (const e of COMMANDS) if ('skip' in e) expect(e.skip, `why ${e.prefix} is skipped`).not.toBe('');
});

for (const block of blocks.filter((b) => b.commands.some((c) => runOf(c) !== undefined))) {
  it.skipIf(deployed)(`runs the README's commands in the block at line ${block.line}`, async () => {
    for (const command of block.commands) {
      const run = runOf(command);
      if (run === undefined) continue; // skipped, or unclassified (the test above fails then)
      const stack: Stack = run.on === 'api' ? { url: api.url } : await npmStart!;
      const port = stack.dynamoPort ?? '<dynamodb port>';
      const text = command.text.replaceAll(README_URL, stack.url).replaceAll('<dynamodb port>', port);
      const out = await keepingAside(run.keepAside, () => runCommand(text, run, stack));
      const tail = (s: string) => s.slice(-3000);
      const what = [
        `README.md:${command.line}: ${text}`,
        '--- stdout',
        tail(out.stdout),
        '--- stderr',
        tail(out.stderr),
      ].join('\n');
      if (run.bounded === undefined) {
        expect(out.stopped, `still running after ${COMMAND_TIMEOUT_MS} ms: ${what}`).toBeUndefined();
        expect(out.code, `exit code of ${what}`).toBe(run.exit?.code ?? 0);
      } else {
        expect(out.stopped, `should keep running until it works (${run.bounded.why}): ${what}`).toBe('ready');
      }
      const errors = lines(out.stderr).filter((l) => !(run.stderr?.test(l) ?? false));
      expect(errors, `stderr of ${what}`).toStrictEqual([]);
      await run.check?.(out, stack);
    }
  });
}
