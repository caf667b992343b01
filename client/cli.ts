/**
 * `sluice`: the command-line client.
 *
 *   sluice topics create NAME [--partitions N] [--config key=value ...]
 *   sluice topics list | describe NAME [--sizes] | delete NAME
 *   sluice produce TOPIC [RECORD ...]        records from arguments, or one JSON per line on stdin
 *   sluice consume TOPIC [--partition P] [--offset N | --from-beginning] [--follow] [--max N]
 *   sluice consume TOPIC --group G [--from-beginning] [--follow] [--max N]
 *   sluice consume TOPIC --share-group G [--from-beginning] [--follow] [--max N]   (a queue: accept what is printed)
 *   sluice consume --queue Q [--follow] [--max N]   (the queue Q: share group Q on topic Q)
 *   sluice share-groups list|describe GROUP|delete GROUP
 *   sluice queues list | declare Q [--max-length N --overflow O --dead-letter-exchange X ...] | describe Q | delete Q
 *   sluice dlq redrive DEAD-LETTER-TOPIC [--to TOPIC] [--max N]   (dead letters back to their topics, once each)
 *   sluice groups list | describe G | delete G
 *   sluice groups reset G --topic T (--to-earliest | --to-latest | --to-offset N | --to-timestamp MS)
 *   sluice sagas list | start SAGA INPUT [--name N] [--wait] | describe SAGA ID | executions SAGA
 *   sluice exchanges list | declare X --type T [--alternate A] | describe X | delete X
 *   sluice bind|unbind EXCHANGE (--topic T | --exchange X) [--key K] [--arg k=v ...]
 *   sluice publish EXCHANGE ROUTING-KEY VALUE [--header k=v ...] [--message-id ID] [--mandatory] [--key K]
 *   sluice subscriptions create NAME --topic T (--lambda FN | --https URL [--secret REF]) [--batch-size N ...]
 *   sluice subscriptions list | describe S | update S [...] | pause S | resume S | delete S
 *   sluice quarantine release|skip SUBSCRIPTION KEY
 *   sluice transactions init|describe ID | produce ID --epoch E [--sequence S] RECORD... |
 *     begin ID --epoch E | send ID --epoch E --sequence S --append A RECORD... | commit|abort ID --epoch E --sequence S
 *   sluice streams append STREAM [EVENT ...] [--expected-version V] | read STREAM [--from-version N ...] | show STREAM
 *   sluice jobs list | describe JOB          stream jobs: per partition position, high watermark, lag; open windows
 *   sluice example [NAME [ARGS ...]]         runs examples/NAME.ts on this Node (no NAME: lists them)
 *
 * Options: --url (default $SLUICE_URL or http://127.0.0.1:7070), --auth none|iam, --json.
 * A RECORD is a JSON object with a "value" (and optional key, headers, partition, timestamp);
 * any other JSON is taken as the value itself.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Admin, type AclRule, type QueueDeclaration } from './admin.ts';
import { PartitionConsumer } from './consumer.ts';
import { GroupConsumer } from './groupConsumer.ts';
import { ShareConsumer } from './shareConsumer.ts';
import { EventStreams, type EventInput, type ExpectedVersion } from './eventStreams.ts';
import { Connection, isSluiceApiError, type Auth } from './http.ts';
import { Jobs, type JobDescription } from './jobs.ts';
import { Producer } from './producer.ts';
import { Publisher, type Binding, type ExchangeType } from './publisher.ts';
import { toWire, type Message, type ReceivedRecord, type Value } from './records.ts';
import { SagaClient, type SagaExecution, type SagaExecutionSummary } from './sagas.ts';
import type {
  Backoff,
  Subscription,
  SubscriptionChanges,
  SubscriptionDescription,
  SubscriptionSpec,
  SubscriptionTarget,
} from './subscriptions.ts';

const USAGE = `Usage:
  sluice topics create NAME [--partitions N] [--config key=value ...]
  sluice topics list
  sluice topics describe NAME [--sizes]   (--sizes: hot and tiered bytes; scans the hot tier)
  sluice topics delete NAME
  sluice produce TOPIC [RECORD ...]      (no RECORD: one JSON per line on stdin)
  sluice consume TOPIC [--partition P] [--offset N | --from-beginning] [--follow] [--max N]
  sluice consume TOPIC --group G [--from-beginning] [--follow] [--max N]
  sluice consume TOPIC --share-group G [--from-beginning] [--follow] [--max N]   (accepts what it prints)
  sluice consume --queue QUEUE [--follow] [--max N]   (share group QUEUE on topic QUEUE; accepts what it prints)
  sluice share-groups list
  sluice share-groups describe GROUP
  sluice share-groups delete GROUP
  sluice dlq redrive DEAD-LETTER-TOPIC [--to TOPIC] [--max N]
  sluice queues list
  sluice queues declare QUEUE [--message-ttl-ms N] [--max-length N] [--overflow drop-head|reject-publish]
      [--dead-letter-exchange EXCHANGE] [--dead-letter-routing-key KEY] [--dead-letter-topic TOPIC]
      [--delivery-limit N] [--lock-ms N] [--max-in-flight N]
  sluice queues describe QUEUE
  sluice queues delete QUEUE
  sluice groups list
  sluice groups describe GROUP
  sluice groups reset GROUP --topic T (--to-earliest | --to-latest | --to-offset N | --to-timestamp MS)
  sluice groups delete GROUP
  sluice sagas list
  sluice sagas start SAGA INPUT-JSON [--name EXECUTION-NAME] [--wait]
  sluice sagas describe SAGA EXECUTION-ID
  sluice sagas executions SAGA [--max N]
  sluice acls list [--principal P] [--resource-type T] [--resource-name N]
  sluice acls add PRINCIPAL OPERATION RESOURCE-TYPE RESOURCE-NAME [--prefixed] [--deny]
  sluice acls remove PRINCIPAL OPERATION RESOURCE-TYPE RESOURCE-NAME [--prefixed] [--deny]
  sluice exchanges list
  sluice exchanges declare EXCHANGE --type direct|fanout|topic|headers [--alternate EXCHANGE]
  sluice exchanges describe EXCHANGE
  sluice exchanges delete EXCHANGE
  sluice bind EXCHANGE (--topic T | --exchange X) [--key BINDING-KEY] [--arg name=value ...]
  sluice unbind EXCHANGE (--topic T | --exchange X) [--key BINDING-KEY] [--arg name=value ...]
  sluice publish EXCHANGE ROUTING-KEY VALUE [--header k=v ...] [--message-id ID] [--mandatory] [--key KEY]
  sluice subscriptions create NAME --topic T (--lambda FUNCTION | --https URL [--secret REF])
      [--batch-size N] [--max-batching-window-ms N] [--ordering partition|key] [--parallelism N]
      [--max-retries N] [--backoff-initial-ms N] [--backoff-multiplier X] [--backoff-max-ms N]
      [--max-record-age-ms N] [--on-failure TOPIC] [--starting-position earliest|latest]
      [--filter JSON] [--paused] [--isolation read_committed]
  sluice subscriptions list
  sluice subscriptions describe SUBSCRIPTION   (per partition: position, lag, retry; quarantined keys)
  sluice subscriptions update SUBSCRIPTION [the create options but --topic and --starting-position]
      [--no-filter] [--no-on-failure]
  sluice subscriptions pause SUBSCRIPTION
  sluice subscriptions resume SUBSCRIPTION
  sluice subscriptions delete SUBSCRIPTION
  sluice quarantine release SUBSCRIPTION KEY   (re-delivers the key's parked records, in order)
  sluice quarantine skip SUBSCRIPTION KEY      (dead-letters them)
  sluice transactions init ID            (a new epoch: fences older instances, aborts what they left open)
  sluice transactions describe ID        (epoch, open transaction with each partition's first offset, last outcome)
  sluice transactions produce ID --epoch E [--sequence S] [--topic T] [RECORD ...]
      (one atomic transaction; each RECORD names its "topic", else --topic; no RECORD: one JSON per line on stdin)
  sluice transactions begin ID --epoch E [--timeout-ms N]
  sluice transactions send ID --epoch E --sequence S --append A [--topic T] [RECORD ...]
  sluice transactions commit|abort ID --epoch E --sequence S
  sluice streams append STREAM [EVENT ...] [--expected-version any|noStream|streamExists|N]
      (an EVENT is JSON {"type", "data", "metadata"?, "schemaVersion"?}; none: one per line on stdin, one append)
  sluice streams read STREAM [--from-version N] [--to-version N] [--max N]
  sluice streams show STREAM   (version, partition, last timestamp, snapshots)
  sluice jobs list                       (stream jobs that have committed a step)
  sluice jobs describe JOB               (per partition: position, high watermark, lag, event time; open windows)
  sluice example                         (lists the examples)
  sluice example NAME [ARGS ...]         (runs examples/NAME.ts; ARGS go to it untouched, e.g. --count 20)
Options: --url URL (default $SLUICE_URL or http://127.0.0.1:7070)  --auth none|iam  --json  --key KEY
  --isolation read_committed|read_uncommitted (consume: Kafka's isolation.level; default read_uncommitted)
  --as PRINCIPAL (names the caller to a local stack started with --trust-principal-header)`;

const RECORD_FIELDS = new Set(['key', 'value', 'headers', 'partition', 'timestamp']);

class UsageError extends Error {}

const OPTIONS = {
  url: { type: 'string', default: process.env.SLUICE_URL ?? 'http://127.0.0.1:7070' },
  auth: { type: 'string' },
  json: { type: 'boolean', default: false },
  partitions: { type: 'string' },
  config: { type: 'string', multiple: true },
  partition: { type: 'string' },
  offset: { type: 'string' },
  'from-beginning': { type: 'boolean', default: false },
  follow: { type: 'boolean', default: false },
  max: { type: 'string' },
  key: { type: 'string' },
  group: { type: 'string' },
  'share-group': { type: 'string' },
  queue: { type: 'string' },
  'message-ttl-ms': { type: 'string' },
  'max-length': { type: 'string' },
  overflow: { type: 'string' },
  'dead-letter-exchange': { type: 'string' },
  'dead-letter-routing-key': { type: 'string' },
  'dead-letter-topic': { type: 'string' },
  'delivery-limit': { type: 'string' },
  'lock-ms': { type: 'string' },
  'max-in-flight': { type: 'string' },
  to: { type: 'string' },
  topic: { type: 'string' },
  'to-earliest': { type: 'boolean', default: false },
  'to-latest': { type: 'boolean', default: false },
  'to-offset': { type: 'string' },
  'to-timestamp': { type: 'string' },
  name: { type: 'string' },
  wait: { type: 'boolean', default: false },
  sizes: { type: 'boolean', default: false },
  as: { type: 'string' },
  principal: { type: 'string' },
  'resource-type': { type: 'string' },
  'resource-name': { type: 'string' },
  prefixed: { type: 'boolean', default: false },
  deny: { type: 'boolean', default: false },
  type: { type: 'string' },
  alternate: { type: 'string' },
  exchange: { type: 'string' },
  arg: { type: 'string', multiple: true },
  header: { type: 'string', multiple: true },
  'message-id': { type: 'string' },
  mandatory: { type: 'boolean', default: false },
  lambda: { type: 'string' },
  https: { type: 'string' },
  secret: { type: 'string' },
  'batch-size': { type: 'string' },
  'max-batching-window-ms': { type: 'string' },
  ordering: { type: 'string' },
  parallelism: { type: 'string' },
  'max-retries': { type: 'string' },
  'backoff-initial-ms': { type: 'string' },
  'backoff-multiplier': { type: 'string' },
  'backoff-max-ms': { type: 'string' },
  'max-record-age-ms': { type: 'string' },
  'on-failure': { type: 'string' },
  'no-on-failure': { type: 'boolean', default: false },
  'starting-position': { type: 'string' },
  filter: { type: 'string' },
  'no-filter': { type: 'boolean', default: false },
  paused: { type: 'boolean', default: false },
  isolation: { type: 'string' },
  epoch: { type: 'string' },
  sequence: { type: 'string' },
  append: { type: 'string' },
  'timeout-ms': { type: 'string' },
  'expected-version': { type: 'string' },
  'from-version': { type: 'string' },
  'to-version': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export async function main(
  argv: string[],
  io = { out: process.stdout, err: process.stderr, stdin: process.stdin },
): Promise<number> {
  // An example's arguments are its own (--count, --until-idle, ...): split them off before parsing ours.
  const exampleAt = exampleCommandIndex(argv);
  if (exampleAt !== undefined) return example(argv.slice(0, exampleAt), argv.slice(exampleAt + 1), io);
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  const print = (line: string): void => void io.out.write(`${line}\n`);
  const auth: Auth | undefined = values.as !== undefined ? { principal: values.as } : (values.auth as Auth | undefined);
  const connection = { url: values.url, ...(auth === undefined ? {} : { auth }) };
  const [command, ...rest] = positionals;
  try {
    if (values.help || command === undefined) {
      print(USAGE);
      return command === undefined && !values.help ? 2 : 0;
    }
    if (command === 'topics') return await topics(new Admin(connection), rest, values, print);
    if (command === 'produce') return await produce(connection, rest, values, io, print);
    if (command === 'consume' && values.queue !== undefined) return await consumeQueue(connection, rest, values, print);
    if (command === 'consume')
      return values['share-group'] !== undefined
        ? await consumeShare(connection, rest, values, print)
        : values.group === undefined
          ? await consume(connection, rest, values, print)
          : await consumeGroup(connection, rest, values, print);
    if (command === 'groups') return await groupsCommand(new Connection(connection), rest, values, print);
    if (command === 'share-groups') return await shareGroupsCommand(new Admin(connection), rest, values, print);
    if (command === 'queues') return await queuesCommand(new Admin(connection), rest, values, print);
    if (command === 'dlq') return await dlqCommand(new Admin(connection), rest, values, print);
    if (command === 'sagas') return await sagasCommand(new SagaClient(connection), rest, values, print);
    if (command === 'acls') return await aclsCommand(new Admin(connection), rest, values, print);
    if (command === 'exchanges' || command === 'bind' || command === 'unbind' || command === 'publish')
      return await exchangesCommand(new Publisher(connection), command, rest, values, print);
    if (command === 'subscriptions') return await subscriptionsCommand(new Admin(connection), rest, values, print);
    if (command === 'quarantine') return await quarantineCommand(new Admin(connection), rest, values, print);
    if (command === 'transactions')
      return await transactionsCommand(new Connection(connection), rest, values, io.stdin, print);
    if (command === 'streams') return await streamsCommand(new EventStreams(connection), rest, values, io, print);
    if (command === 'jobs') return await jobsCommand(new Jobs(connection), rest, values, print);
    throw new UsageError(`Unknown command ${command}`);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err.write(`${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (isSluiceApiError(e)) {
      io.err.write(values.json ? `${JSON.stringify({ error: e.details })}\n` : `Error ${e.code}: ${e.message}\n`);
      return 1;
    }
    io.err.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

/** Where `sluice example` finds its programs: examples/ beside client/, whatever the working directory. */
const EXAMPLES_DIR = fileURLToPath(new URL('../examples/', import.meta.url));

/** Where `example` is the command (the first positional), or undefined when it is not. */
function exampleCommandIndex(argv: string[]): number | undefined {
  const { tokens } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false, tokens: true });
  const command = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator');
  return command?.kind === 'positional' && command.value === 'example' ? command.index : undefined;
}

/**
 * The runnable examples, named by their path under examples/ without `.ts`. A file that exports
 * something is a module the examples share (groups/orders.ts, order-saga/saga.ts), unless it also
 * checks that it is the main module (order-saga/seed.ts, order-saga/choreography.ts).
 */
function listExamples(): string[] {
  if (!existsSync(EXAMPLES_DIR)) return [];
  const isProgram = (file: string): boolean => {
    const source = readFileSync(join(EXAMPLES_DIR, file), 'utf8');
    return !/^export\s/m.test(source) || /import\.meta\.main|process\.argv\[1\]/.test(source);
  };
  return readdirSync(EXAMPLES_DIR, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && isProgram(file))
    .map((file) => file.slice(0, -'.ts'.length).split(sep).join('/'))
    .sort();
}

/**
 * `sluice [--url URL] example NAME [ARGS ...]`: runs examples/NAME.ts with this Node (22 or newer,
 * which runs TypeScript; bin/sluice.mjs sees to that) in the caller's working directory, with ARGS
 * untouched and the terminal passed through, and exits with the example's code. A `--url` before
 * `example` reaches the example as SLUICE_URL, which every example reads.
 */
async function example(
  ours: string[],
  args: string[],
  io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream },
): Promise<number> {
  let url: string | undefined;
  try {
    url = parseArgs({ args: ours, options: { url: { type: 'string' }, help: OPTIONS.help } }).values.url;
  } catch (e) {
    io.err.write(`${(e as Error).message} (an example's own options go after its name)\n\n${USAGE}\n`);
    return 2;
  }
  const [name, ...rest] = args;
  const available = listExamples();
  const listing = `Examples (sluice example NAME [ARGS ...]):\n${available.map((n) => `  ${n}\n`).join('')}`;
  if (name === undefined || name === '--help' || name === '-h') {
    io.out.write(listing);
    return 0;
  }
  if (!available.includes(name)) {
    io.err.write(`Unknown example ${name}\n${listing}`);
    return 2;
  }
  const file = join(EXAMPLES_DIR, `${name}.ts`);
  const env = url === undefined ? process.env : { ...process.env, SLUICE_URL: url };
  const child = spawn(process.execPath, ['--no-warnings=ExperimentalWarning', file, ...rest], {
    stdio: 'inherit',
    env,
  });
  // Ctrl-C reaches the example directly (it shares the terminal's process group), and the examples
  // stop gracefully on it: wait for that rather than exit first. SIGTERM and SIGHUP sent to this
  // process are passed on.
  const ignore = (): void => {};
  const pass = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', ignore).on('SIGTERM', pass).on('SIGHUP', pass);
  try {
    return await new Promise<number>((resolve) => {
      child.on('error', (e) => {
        io.err.write(`Error: cannot run ${file}: ${e.message}\n`);
        resolve(1);
      });
      // Killed by a signal: 128 + its number, as shells report it.
      child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
    });
  } finally {
    process.off('SIGINT', ignore).off('SIGTERM', pass).off('SIGHUP', pass);
  }
}

function integer(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a non-negative integer`);
  return Number(raw);
}

async function topics(
  admin: Admin,
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [action, name] = args;
  const json = values.json === true;
  switch (action) {
    case 'create': {
      if (name === undefined) throw new UsageError('topics create needs a NAME');
      const config: Record<string, unknown> = {};
      for (const pair of (values.config as string[] | undefined) ?? []) {
        const [k, ...v] = pair.split('=');
        const raw = v.join('=');
        config[k!] = /^-?\d+$/.test(raw) ? Number(raw) : raw;
      }
      const partitions = integer('partitions', values.partitions as string | undefined);
      const topic = await admin.createTopic(name, { ...(partitions === undefined ? {} : { partitions }), config });
      print(json ? JSON.stringify(topic) : `Created topic ${topic.name} with ${topic.partitions.length} partition(s)`);
      return 0;
    }
    case 'list': {
      const list = await admin.listTopics();
      if (json) print(JSON.stringify(list));
      else
        table(
          print,
          ['TOPIC', 'PARTITIONS', 'STORAGE', 'COMPRESSION', 'RETENTION MS'],
          list.map((t) => [
            t.name,
            String(t.config.partitions),
            t.config.storage ?? 'dynamodb',
            t.config.compression,
            String(t.config.retentionMs),
          ]),
        );
      return 0;
    }
    case 'describe': {
      if (name === undefined) throw new UsageError('topics describe needs a NAME');
      const sizes = values.sizes === true;
      const topic = await admin.describeTopic(name, { sizes });
      if (json) print(JSON.stringify(topic));
      else {
        print(`Topic ${topic.name} (id ${topic.topicId})`);
        print(
          `Config ${Object.entries(topic.config)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`,
        );
        const figure = (n: number | undefined) => (n === undefined ? '-' : String(n));
        table(
          print,
          [
            'PARTITION',
            'LOG START',
            'HIGH WATERMARK',
            'LAST STABLE',
            'OPEN TRANSACTIONS',
            ...(sizes ? ['SEGMENTS', 'TIERED BYTES', 'HOT BYTES'] : []),
          ],
          topic.partitions.map((p) => [
            String(p.partition),
            String(p.logStartOffset),
            String(p.highWatermark),
            figure(p.lastStableOffset),
            (p.openTransactions ?? []).map((t) => `${t.transactionalId}@${t.firstOffset}`).join(',') || '-',
            ...(sizes ? [figure(p.segments), figure(p.tieredBytes), figure(p.hotBytes)] : []),
          ]),
        );
      }
      return 0;
    }
    case 'delete': {
      if (name === undefined) throw new UsageError('topics delete needs a NAME');
      await admin.deleteTopic(name);
      print(json ? JSON.stringify({ deleted: name }) : `Deleted topic ${name}`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown topics action ${action ?? ''}`);
  }
}

function toMessage(text: string, key: string | undefined): Message {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text; // not JSON: the line itself is a string value
  }
  const isRecord =
    typeof parsed === 'object' &&
    parsed !== null &&
    !Array.isArray(parsed) &&
    'value' in parsed &&
    Object.keys(parsed).every((k) => RECORD_FIELDS.has(k));
  const message = (isRecord ? parsed : { value: parsed }) as Message;
  return key === undefined ? message : { ...message, key };
}

async function produce(
  connection: { url: string; auth?: Auth },
  args: string[],
  values: Record<string, unknown>,
  io: {
    out: NodeJS.WritableStream;
    err: NodeJS.WritableStream & { isTTY?: boolean };
    stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  },
  print: (l: string) => void,
): Promise<number> {
  const [topic, ...inline] = args;
  if (topic === undefined) throw new UsageError('produce needs a TOPIC');
  const producer = new Producer({ ...connection, lingerMs: 20 });
  const key = values.key as string | undefined;
  const json = values.json === true;
  let count = 0;
  const started = Date.now();
  const progress = (done: boolean): void => {
    if (!io.err.isTTY) return;
    const rate = Math.round(count / Math.max(0.001, (Date.now() - started) / 1000));
    const bar = '#'.repeat(Math.min(30, Math.floor(Math.log10(count + 1) * 6))).padEnd(30, '.');
    io.err.write(`\r[${bar}] ${count} records, ${rate}/s${done ? '\n' : ''}`);
  };
  const pending: Promise<unknown>[] = [];
  const sendOne = (text: string): void => {
    const delivery = producer.send(topic, toMessage(text, key)).then((report) => {
      count++;
      if (inline.length > 0)
        print(json ? JSON.stringify(report) : `${report.topic}[${report.partition}] @ ${report.offset}`);
      else if (count % 100 === 0) progress(false);
    });
    pending.push(delivery);
  };
  if (inline.length > 0) inline.forEach(sendOne);
  else {
    const lines = createInterface({ input: io.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      sendOne(line);
      if (pending.length >= 2000) await Promise.all(pending.splice(0));
    }
  }
  await producer.flush();
  await Promise.all(pending);
  if (inline.length === 0) {
    progress(true);
    print(json ? JSON.stringify({ topic, produced: count }) : `Produced ${count} records to ${topic}`);
  }
  return 0;
}

async function consume(
  connection: { url: string; auth?: Auth },
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [topic] = args;
  if (topic === undefined) throw new UsageError('consume needs a TOPIC');
  const admin = new Admin(connection);
  const explicit = integer('partition', values.partition as string | undefined);
  const partitions =
    explicit === undefined ? (await admin.describeTopic(topic)).partitions.map((p) => p.partition) : [explicit];
  const offset = integer('offset', values.offset as string | undefined);
  const max = integer('max', values.max as string | undefined) ?? Infinity;
  const consumers = partitions.map(
    (partition) =>
      new PartitionConsumer({
        ...connection,
        topic,
        partition,
        autoOffsetReset: values['from-beginning'] === true ? 'earliest' : 'latest',
        ...(offset === undefined ? {} : { fromOffset: offset }),
        ...isolationOf(values),
      }),
  );
  const follow = values.follow === true;
  let printed = 0;
  for (;;) {
    let got = 0;
    for (const consumer of consumers) {
      // When following a single partition, long-poll; across several, poll each briefly in turn.
      const records = await consumer.poll({ waitMs: follow && consumers.length === 1 ? 5000 : 0 });
      for (const record of records) {
        if (printed >= max) return 0;
        print(values.json === true ? JSON.stringify(jsonRecord(record)) : humanRecord(record));
        printed++;
        got++;
      }
    }
    if (printed >= max) return 0;
    if (got === 0) {
      if (!follow) return 0;
      if (consumers.length > 1) await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** `consume TOPIC --share-group G`: acquire records, print them, accept what was printed. */
async function consumeShare(
  connection: { url: string; auth?: Auth },
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [topic] = args;
  if (topic === undefined) throw new UsageError('consume needs a TOPIC');
  const consumer = new ShareConsumer({
    ...connection,
    groupId: values['share-group'] as string,
    topics: [topic],
    ...(values['from-beginning'] === true ? { start: 'earliest' as const } : {}),
    ...isolationOf(values),
  });
  return printUntilCaughtUp(
    values,
    print,
    {
      poll: (waitMs, maxRecords) => consumer.poll({ waitMs, maxRecords }),
      done: (record) => consumer.acknowledge(record, 'accept'),
      commit: () => consumer.commit(), // accept exactly what was printed
      close: () => consumer.close(),
    },
    (record) => ({ ...(jsonRecord(record) as object), deliveryCount: record.deliveryCount }),
  );
}

/** `consume --queue Q`: the queue's consumers are share group Q on topic Q. */
async function consumeQueue(
  connection: { url: string; auth?: Auth },
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const queue = values.queue as string;
  const [topic] = args;
  if (topic !== undefined && topic !== queue)
    throw new UsageError(`consume --queue ${queue} reads topic ${queue}: leave out the TOPIC`);
  if (values.group !== undefined || values['share-group'] !== undefined)
    throw new UsageError('consume --queue goes without --group and --share-group (its share group is the queue)');
  // A queue starts at its earliest message whatever --from-beginning says: leave the start to it.
  return consumeShare(connection, [queue], { ...values, 'share-group': queue, 'from-beginning': false }, print);
}

async function dlqCommand(
  admin: Admin,
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [action, dlq] = args;
  if (action !== 'redrive' || dlq === undefined) throw new UsageError('dlq redrive needs a DEAD-LETTER-TOPIC');
  const max = integer('max', values.max as string | undefined);
  const result = await admin.redrive(dlq, {
    ...(max === undefined ? {} : { maxRecords: max }),
    ...(values.to === undefined ? {} : { toTopic: values.to as string }),
  });
  if (values.json === true) print(JSON.stringify(result));
  else {
    for (const r of result.redriven)
      print(
        r.to === undefined
          ? `${dlq}[${r.from.partition}] @ ${r.from.offset}: skipped (${r.skipped ?? ''})`
          : `${dlq}[${r.from.partition}] @ ${r.from.offset} → ${r.to.topic}[${r.to.partition}] @ ${r.to.offset}`,
      );
    print(`Redrove ${result.redriven.filter((r) => r.to !== undefined).length}; ${result.remaining} left`);
  }
  return 0;
}

async function shareGroupsCommand(
  admin: Admin,
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [action, group] = args;
  const json = values.json === true;
  switch (action) {
    case 'list': {
      const groups = await admin.listShareGroups();
      if (json) print(JSON.stringify(groups));
      else for (const g of groups) print(g);
      return 0;
    }
    case 'describe': {
      if (group === undefined) throw new UsageError('share-groups describe needs a GROUP');
      const d = await admin.describeShareGroup(group);
      if (json) print(JSON.stringify(d));
      else {
        print(
          `Share group ${d.group}: ${d.members.length} member(s), lock ${d.settings.lockMs} ms, delivery limit ${d.settings.deliveryLimit}${d.settings.deadLetterTopic === undefined ? '' : `, dead letters to ${d.settings.deadLetterTopic}`}`,
        );
        table(
          print,
          [
            'TOPIC',
            'PARTITION',
            'START',
            'NEXT',
            'HIGH WATERMARK',
            'IN FLIGHT',
            'ACQUIRED',
            'AVAILABLE',
            'ARCHIVED',
            'LAG',
          ],
          d.partitions.map((p) =>
            [
              p.topic,
              p.partition,
              p.startOffset,
              p.nextOffset,
              p.highWatermark,
              p.inFlight,
              p.acquired,
              p.available,
              p.archived,
              p.lag,
            ].map(String),
          ),
        );
      }
      return 0;
    }
    case 'delete': {
      if (group === undefined) throw new UsageError('share-groups delete needs a GROUP');
      await admin.deleteShareGroup(group);
      print(`Deleted share group ${group}`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown share-groups action ${action ?? '(none)'}`);
  }
}

async function queuesCommand(
  admin: Admin,
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [action, name] = args;
  const json = values.json === true;
  switch (action) {
    case 'list': {
      const queues = await admin.listQueues();
      if (json) print(JSON.stringify(queues));
      else for (const q of queues) print(q);
      return 0;
    }
    case 'declare': {
      if (name === undefined) throw new UsageError('queues declare needs a QUEUE');
      const overflow = values.overflow as string | undefined;
      if (overflow !== undefined && overflow !== 'drop-head' && overflow !== 'reject-publish')
        throw new UsageError('--overflow is drop-head or reject-publish');
      const numbers = {
        messageTtlMs: integer('message-ttl-ms', values['message-ttl-ms'] as string | undefined),
        maxLength: integer('max-length', values['max-length'] as string | undefined),
        deliveryLimit: integer('delivery-limit', values['delivery-limit'] as string | undefined),
        lockMs: integer('lock-ms', values['lock-ms'] as string | undefined),
        maxInFlight: integer('max-in-flight', values['max-in-flight'] as string | undefined),
      };
      const strings = {
        deadLetterExchange: values['dead-letter-exchange'] as string | undefined,
        deadLetterRoutingKey: values['dead-letter-routing-key'] as string | undefined,
        deadLetterTopic: values['dead-letter-topic'] as string | undefined,
      };
      const declaration: QueueDeclaration = {
        name,
        ...Object.fromEntries(Object.entries({ ...numbers, ...strings }).filter(([, v]) => v !== undefined)),
        ...(overflow === undefined ? {} : { overflow }),
      };
      const { queue, created } = await admin.declareQueue(declaration);
      print(json ? JSON.stringify({ queue, created }) : `${created ? 'Declared' : 'Exists'} queue ${queue.name}`);
      return 0;
    }
    case 'describe': {
      if (name === undefined) throw new UsageError('queues describe needs a QUEUE');
      const q = await admin.describeQueue(name);
      if (json) print(JSON.stringify(q));
      else {
        print(
          `Queue ${q.name}: ${q.messages} message(s) (${q.ready} ready, ${q.unacknowledged} unacknowledged), ${q.archived} archived, ${q.consumers} consumer(s)`,
        );
        const shown = [
          'messageTtlMs',
          'maxLength',
          'overflow',
          'deadLetterExchange',
          'deadLetterRoutingKey',
          'deadLetterTopic',
          'deliveryLimit',
          'lockMs',
          'maxInFlight',
        ] as const;
        print(
          `Settings ${shown
            .filter((k) => q.settings[k] !== undefined)
            .map((k) => `${k}=${q.settings[k]}`)
            .join(' ')}`,
        );
      }
      return 0;
    }
    case 'delete': {
      if (name === undefined) throw new UsageError('queues delete needs a QUEUE');
      await admin.deleteQueue(name);
      print(json ? JSON.stringify({ deleted: name }) : `Deleted queue ${name}`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown queues action ${action ?? '(none)'}`);
  }
}

/**
 * Prints what `poll` returns until `max` records or, without `--follow`, until caught up (two
 * empty polls: one may just be a join settling); `done` marks a printed record, and `commit`
 * after each poll commits (or accepts) exactly what was printed.
 */
async function printUntilCaughtUp<R extends ReceivedRecord>(
  values: Record<string, unknown>,
  print: (l: string) => void,
  consumer: {
    poll(waitMs: number, limit: number): Promise<R[]>;
    done(record: R): void;
    commit(): Promise<unknown>;
    close(): Promise<void>;
  },
  show: (record: R) => unknown = jsonRecord,
): Promise<number> {
  const max = integer('max', values.max as string | undefined) ?? Infinity;
  const follow = values.follow === true;
  let printed = 0;
  let idle = 0;
  try {
    while (printed < max) {
      const records = await consumer.poll(follow ? 5000 : 500, Math.min(500, max - printed));
      for (const record of records) {
        if (printed >= max) break;
        print(values.json === true ? JSON.stringify(show(record)) : humanRecord(record));
        consumer.done(record);
        printed++;
      }
      await consumer.commit();
      idle = records.length === 0 ? idle + 1 : 0;
      if (!follow && idle >= 2) break;
    }
  } finally {
    await consumer.close();
  }
  return 0;
}

async function consumeGroup(
  connection: { url: string; auth?: Auth },
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [topic] = args;
  if (topic === undefined) throw new UsageError('consume needs a TOPIC');
  const consumer = new GroupConsumer({
    ...connection,
    groupId: values.group as string,
    topics: [topic],
    autoOffsetReset: values['from-beginning'] === true ? 'earliest' : 'latest',
    autoCommit: false,
    sessionTimeoutMs: 10_000,
    ...isolationOf(values),
  });
  // Commit exactly what was printed: a record not shown is not committed.
  return printUntilCaughtUp(values, print, {
    poll: (waitMs) => consumer.poll({ waitMs, markConsumed: false }),
    done: (record) => consumer.markMessage(record),
    commit: () => consumer.commit(),
    close: () => consumer.close(),
  });
}

async function groupsCommand(
  http: Connection,
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [action, group] = args;
  const json = values.json === true;
  const path = (g: string) => `v1/groups/${encodeURIComponent(g)}`;
  switch (action) {
    case 'list': {
      const { groups } = await http.request<{
        groups: { group: string; state: string; generation: number; members: number }[];
      }>('GET', 'v1/groups');
      if (json) print(JSON.stringify(groups));
      else
        table(
          print,
          ['GROUP', 'STATE', 'GENERATION', 'MEMBERS'],
          groups.map((g) => [g.group, g.state, String(g.generation), String(g.members)]),
        );
      return 0;
    }
    case 'describe': {
      if (group === undefined) throw new UsageError('groups describe needs a GROUP');
      const d = await http.request<{
        group: string;
        state: string;
        generation: number;
        assignor: string;
        totalLag: number;
        members: { memberId: string; instanceId: string | null; assignments: { topic: string; partition: number }[] }[];
        offsets: { topic: string; partition: number; committed: number | null; highWatermark: number; lag: number }[];
      }>('GET', path(group));
      if (json) {
        print(JSON.stringify(d));
        return 0;
      }
      print(
        `Group ${d.group}: ${d.state}, generation ${d.generation}, assignor ${d.assignor}, total lag ${d.totalLag}`,
      );
      const ownerOf = new Map<string, string>();
      for (const m of d.members)
        for (const a of m.assignments) ownerOf.set(`${a.topic}/${a.partition}`, m.instanceId ?? m.memberId.slice(0, 8));
      table(
        print,
        ['TOPIC', 'PARTITION', 'COMMITTED', 'HIGH WATERMARK', 'LAG', 'OWNER'],
        d.offsets.map((o) => [
          o.topic,
          String(o.partition),
          o.committed === null ? '-' : String(o.committed),
          String(o.highWatermark),
          String(o.lag),
          ownerOf.get(`${o.topic}/${o.partition}`) ?? '-',
        ]),
      );
      return 0;
    }
    case 'reset': {
      if (group === undefined || typeof values.topic !== 'string')
        throw new UsageError('groups reset needs a GROUP and --topic');
      const chosen = [
        values['to-earliest'] === true,
        values['to-latest'] === true,
        values['to-offset'] !== undefined,
        values['to-timestamp'] !== undefined,
      ].filter(Boolean).length;
      if (chosen !== 1)
        throw new UsageError(
          'groups reset needs exactly one of --to-earliest, --to-latest, --to-offset, --to-timestamp',
        );
      const to =
        values['to-earliest'] === true
          ? 'earliest'
          : values['to-latest'] === true
            ? 'latest'
            : values['to-offset'] !== undefined
              ? { offset: integer('to-offset', values['to-offset'] as string) }
              : { timestamp: integer('to-timestamp', values['to-timestamp'] as string) };
      const { offsets } = await http.request<{ offsets: { topic: string; partition: number; offset: number }[] }>(
        'POST',
        `${path(group)}/offsets/reset`,
        { body: { topic: values.topic, to } },
      );
      if (json) print(JSON.stringify(offsets));
      else
        table(
          print,
          ['TOPIC', 'PARTITION', 'NEW OFFSET'],
          offsets.map((o) => [o.topic, String(o.partition), String(o.offset)]),
        );
      return 0;
    }
    case 'delete': {
      if (group === undefined) throw new UsageError('groups delete needs a GROUP');
      await http.request('DELETE', path(group));
      print(json ? JSON.stringify({ deleted: group }) : `Deleted group ${group}`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown groups action ${action ?? ''}`);
  }
}

async function sagasCommand(
  sagas: SagaClient,
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [action, saga, arg] = args;
  const json = values.json === true;
  const describe = (e: SagaExecution): void => {
    if (json) return print(JSON.stringify(e));
    print(
      `Saga ${e.saga} execution ${e.executionId}: ${e.status}${e.failedStep === undefined ? '' : ` (failed at ${e.failedStep})`}`,
    );
    table(
      print,
      ['STEP', 'STATUS', 'ERROR'],
      e.steps.map((s) => [s.step, s.status, s.error === undefined ? '' : `${s.error.error}: ${s.error.message}`]),
    );
  };
  switch (action) {
    case 'list': {
      const list = await sagas.list();
      if (json) print(JSON.stringify(list));
      else
        table(
          print,
          ['SAGA', 'TYPE', 'STEPS', 'AUDIT TOPIC', 'TRIGGER'],
          list.map((s) => [
            s.name,
            s.type,
            s.steps.join(' → '),
            s.auditTopic,
            s.trigger === undefined
              ? '-'
              : `${s.trigger.topic}${s.trigger.eventType === undefined ? '' : ` (${s.trigger.eventType})`}`,
          ]),
        );
      return 0;
    }
    case 'start': {
      if (saga === undefined || arg === undefined) throw new UsageError('sagas start needs a SAGA and an INPUT (JSON)');
      let input: Value;
      try {
        input = JSON.parse(arg) as Value;
      } catch {
        throw new UsageError('INPUT must be JSON');
      }
      const started = await sagas.start(
        saga,
        input,
        typeof values.name === 'string' ? { executionName: values.name } : {},
      );
      if (values.wait !== true) {
        print(
          json
            ? JSON.stringify(started)
            : `${started.created ? 'Started' : 'Already started'} ${saga} execution ${started.executionId}`,
        );
        return 0;
      }
      const done = await sagas.waitFor(saga, started.executionId);
      describe(done);
      return done.status === 'SUCCEEDED' ? 0 : 1;
    }
    case 'describe': {
      if (saga === undefined || arg === undefined)
        throw new UsageError('sagas describe needs a SAGA and an EXECUTION-ID');
      describe(await sagas.describe(saga, arg));
      return 0;
    }
    case 'executions': {
      if (saga === undefined) throw new UsageError('sagas executions needs a SAGA');
      const max = integer('max', values.max as string | undefined) ?? 100;
      const rows: SagaExecutionSummary[] = [];
      let after: string | undefined;
      do {
        const page = await sagas.listExecutions(saga, {
          limit: Math.min(100, max - rows.length),
          ...(after === undefined ? {} : { after }),
        });
        rows.push(...page.executions);
        after = page.next;
      } while (after !== undefined && rows.length < max);
      if (json) print(JSON.stringify(rows));
      else
        table(
          print,
          ['EXECUTION', 'STATUS', 'FAILED STEP', 'UPDATED'],
          rows.map((e) => [e.executionId, e.status, e.failedStep ?? '-', new Date(e.updatedAt).toISOString()]),
        );
      return 0;
    }
    default:
      throw new UsageError(`Unknown sagas action ${action ?? ''}`);
  }
}

async function aclsCommand(
  admin: Admin,
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [action, principal, operation, resourceType, resourceName] = args;
  const rule = (): AclRule => {
    if (resourceName === undefined)
      throw new UsageError(`acls ${action} needs PRINCIPAL OPERATION RESOURCE-TYPE RESOURCE-NAME`);
    return {
      principal: principal!,
      operation: operation as AclRule['operation'],
      resourceType: resourceType as AclRule['resourceType'],
      resourceName,
      patternType: values.prefixed === true ? 'prefixed' : 'literal',
      permission: values.deny === true ? 'deny' : 'allow',
    };
  };
  switch (action) {
    case 'list': {
      const acls = await admin.listAcls({
        ...(values.principal === undefined ? {} : { principal: values.principal as string }),
        ...(values['resource-type'] === undefined
          ? {}
          : { resourceType: values['resource-type'] as AclRule['resourceType'] }),
        ...(values['resource-name'] === undefined ? {} : { resourceName: values['resource-name'] as string }),
      });
      if (values.json === true) print(JSON.stringify(acls));
      else
        table(
          print,
          ['PRINCIPAL', 'PERMISSION', 'OPERATION', 'RESOURCE TYPE', 'PATTERN', 'RESOURCE NAME'],
          acls.map((a) => [a.principal, a.permission, a.operation, a.resourceType, a.patternType, a.resourceName]),
        );
      return 0;
    }
    case 'add': {
      const { acl, created } = await admin.addAcl(rule());
      print(values.json === true ? JSON.stringify({ acl, created }) : created ? `Added ${acl.id}` : `Exists ${acl.id}`);
      return 0;
    }
    case 'remove': {
      const deleted = await admin.removeAcl(rule());
      print(values.json === true ? JSON.stringify({ deleted }) : deleted ? 'Removed' : 'No such rule');
      return deleted ? 0 : 1;
    }
    default:
      throw new UsageError(`Unknown acls action ${action ?? '(none)'}`);
  }
}

/** `name=value` pairs into an object (`--arg`, `--header`). */
function pairs(flag: string, list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (list as string[] | undefined) ?? []) {
    const at = item.indexOf('=');
    if (at <= 0) throw new UsageError(`--${flag} takes name=value, got ${item}`);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

async function exchangesCommand(
  publisher: Publisher,
  command: 'exchanges' | 'bind' | 'unbind' | 'publish',
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const json = values.json === true;
  if (command === 'bind' || command === 'unbind') {
    const [exchange] = args;
    const topic = values.topic as string | undefined;
    const to = values.exchange as string | undefined;
    if (exchange === undefined || (topic === undefined) === (to === undefined))
      throw new UsageError(`${command} needs EXCHANGE and one of --topic or --exchange`);
    const binding: Binding = {
      destination: topic !== undefined ? { topic } : { exchange: to! },
      ...(values.key === undefined ? {} : { bindingKey: values.key as string }),
      ...(values.arg === undefined ? {} : { arguments: pairs('arg', values.arg) }),
    };
    if (command === 'unbind') {
      await publisher.unbind(exchange, binding);
      print(json ? JSON.stringify({ unbound: true }) : 'Unbound');
      return 0;
    }
    const { binding: stored, created } = await publisher.bind(exchange, binding);
    print(json ? JSON.stringify({ binding: stored, created }) : `${created ? 'Bound' : 'Exists'} ${stored.id}`);
    return 0;
  }
  if (command === 'publish') {
    const [exchange, routingKey, value] = args;
    if (value === undefined) throw new UsageError('publish needs EXCHANGE ROUTING-KEY VALUE');
    let parsed: unknown = value;
    try {
      parsed = JSON.parse(value);
    } catch {
      // not JSON: the value is the string itself
    }
    const result = await publisher.publish(exchange!, {
      routingKey: routingKey!,
      value: parsed,
      ...(values.key === undefined ? {} : { key: values.key as string }),
      ...(values.header === undefined ? {} : { headers: pairs('header', values.header) }),
      ...(values['message-id'] === undefined ? {} : { messageId: values['message-id'] as string }),
      ...(values.mandatory === true ? { mandatory: true } : {}),
    });
    if (json) print(JSON.stringify(result));
    else if (result.routed.length === 0) print('Routed nowhere');
    else
      table(
        print,
        ['TOPIC', 'PARTITION', 'OFFSET'],
        result.routed.map((r) => [r.topic, String(r.partition), String(r.offset)]),
      );
    return 0;
  }
  const [action, name] = args;
  switch (action) {
    case 'list': {
      const exchanges = await publisher.list();
      if (json) print(JSON.stringify(exchanges));
      else
        table(
          print,
          ['EXCHANGE', 'TYPE', 'ALTERNATE'],
          exchanges.map((x) => [x.name, x.type, x.alternateExchange ?? '']),
        );
      return 0;
    }
    case 'declare': {
      if (name === undefined || values.type === undefined)
        throw new UsageError('exchanges declare needs EXCHANGE and --type');
      const declared = await publisher.declare(name, {
        type: values.type as ExchangeType,
        ...(values.alternate === undefined ? {} : { alternateExchange: values.alternate as string }),
      });
      print(json ? JSON.stringify(declared) : `${declared.created ? 'Declared' : 'Exists'} ${name} (${declared.type})`);
      return 0;
    }
    case 'describe': {
      if (name === undefined) throw new UsageError('exchanges describe needs EXCHANGE');
      const described = await publisher.describe(name);
      if (json) print(JSON.stringify(described));
      else {
        print(
          `${described.name} (${described.type}${described.alternateExchange === null ? '' : `, alternate ${described.alternateExchange}`})`,
        );
        table(
          print,
          ['DESTINATION', 'BINDING KEY', 'ARGUMENTS'],
          described.bindings.map((b) => [
            'topic' in b.destination ? `topic ${b.destination.topic}` : `exchange ${b.destination.exchange}`,
            b.bindingKey,
            JSON.stringify(b.arguments),
          ]),
        );
      }
      return 0;
    }
    case 'delete': {
      if (name === undefined) throw new UsageError('exchanges delete needs EXCHANGE');
      await publisher.deleteExchange(name);
      print(json ? JSON.stringify({ deleted: true }) : `Deleted ${name}`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown exchanges action ${action ?? '(none)'}`);
  }
}

/** A subscription's target from --lambda or --https (with --secret); undefined when neither is given. */
function targetOf(values: Record<string, unknown>): SubscriptionTarget | undefined {
  const lambda = values.lambda as string | undefined;
  const https = values.https as string | undefined;
  const secret = values.secret as string | undefined;
  if (lambda !== undefined && https !== undefined) throw new UsageError('give one of --lambda and --https');
  if (secret !== undefined && https === undefined) throw new UsageError('--secret goes with --https');
  if (lambda !== undefined) return { type: 'lambda', functionName: lambda };
  if (https !== undefined) return { type: 'https', url: https, ...(secret === undefined ? {} : { secret }) };
  return undefined;
}

/** The settings a create and an update share, from the options given (the server checks their values). */
function subscriptionSettings(values: Record<string, unknown>): SubscriptionChanges {
  const str = (k: string) => values[k] as string | undefined;
  const numbers = {
    batchSize: integer('batch-size', str('batch-size')),
    maxBatchingWindowMs: integer('max-batching-window-ms', str('max-batching-window-ms')),
    parallelismPerPartition: integer('parallelism', str('parallelism')),
    maxRetries: integer('max-retries', str('max-retries')),
    maxRecordAgeMs: signedInteger('max-record-age-ms', str('max-record-age-ms')),
  };
  const ordering = str('ordering');
  if (ordering !== undefined && ordering !== 'partition' && ordering !== 'key')
    throw new UsageError('--ordering is partition or key');
  const target = targetOf(values);
  if (values['no-filter'] === true && values.filter !== undefined)
    throw new UsageError('give one of --filter and --no-filter');
  if (values['no-on-failure'] === true && values['on-failure'] !== undefined)
    throw new UsageError('give one of --on-failure and --no-on-failure');
  let filter: SubscriptionChanges['filter'];
  if (values.filter !== undefined) {
    try {
      filter = JSON.parse(values.filter as string) as SubscriptionChanges['filter'];
    } catch {
      throw new UsageError('--filter must be JSON, e.g. \'{"value":{"type":["order.created"]}}\'');
    }
  } else if (values['no-filter'] === true) filter = null;
  const onFailure =
    values['on-failure'] !== undefined
      ? { topic: values['on-failure'] as string }
      : values['no-on-failure'] === true
        ? null
        : undefined;
  return Object.fromEntries(
    Object.entries({
      ...numbers,
      ordering,
      target,
      filter,
      onFailure,
      ...(values.paused === true ? { paused: true } : {}),
      ...isolationOf(values),
    }).filter(([, v]) => v !== undefined),
  );
}

/** The backoff options given, or undefined when none is. */
function backoffOf(values: Record<string, unknown>): Partial<Backoff> | undefined {
  const multiplier = values['backoff-multiplier'] as string | undefined;
  if (multiplier !== undefined && !/^\d+(\.\d+)?$/.test(multiplier))
    throw new UsageError('--backoff-multiplier must be a number, e.g. 2 or 1.5');
  const backoff = Object.fromEntries(
    Object.entries({
      initialMs: integer('backoff-initial-ms', values['backoff-initial-ms'] as string | undefined),
      multiplier: multiplier === undefined ? undefined : Number(multiplier),
      maxMs: integer('backoff-max-ms', values['backoff-max-ms'] as string | undefined),
    }).filter(([, v]) => v !== undefined),
  );
  return Object.keys(backoff).length === 0 ? undefined : backoff;
}

function signedInteger(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw)) throw new UsageError(`--${name} must be an integer`);
  return Number(raw);
}

function targetText(t: SubscriptionTarget): string {
  return t.type === 'lambda'
    ? `lambda ${t.functionName}`
    : `https ${t.url}${t.secret === undefined ? '' : ' (signed)'}`;
}

function describeSubscription(d: SubscriptionDescription, print: (l: string) => void): void {
  const b = d.backoff;
  print(
    `Subscription ${d.name}: ${d.paused ? 'paused' : 'active'}, topic ${d.topic} → ${targetText(d.target)}, group ${d.group}`,
  );
  print(
    `Settings ordering=${d.ordering}${d.ordering === 'key' ? ` parallelismPerPartition=${d.parallelismPerPartition}` : ''} batchSize=${d.batchSize} maxBatchingWindowMs=${d.maxBatchingWindowMs} startingPosition=${d.startingPosition} maxRetries=${d.maxRetries} backoff=${b.initialMs}ms×${b.multiplier}≤${b.maxMs}ms maxRecordAgeMs=${d.maxRecordAgeMs} onFailure=${d.onFailure?.topic ?? '-'}`,
  );
  if (d.filter !== undefined) print(`Filter ${JSON.stringify(d.filter)}`);
  const now = Date.now();
  table(
    print,
    ['PARTITION', 'POSITION', 'HIGH WATERMARK', 'LAG', 'DELIVERED', 'DEAD-LETTERED', 'RETRY'],
    d.partitions.map((p) => [
      String(p.partition),
      p.position === null ? '-' : String(p.position),
      String(p.highWatermark),
      String(p.lag),
      String(p.delivered),
      String(p.deadLettered),
      p.retry === null
        ? '-'
        : `${p.retry.offsets.length} record(s) from offset ${p.retry.offsets[0] ?? '-'}, attempt ${p.retry.attempt}, ${
            p.retry.retryAt <= now ? 'due now' : `in ${Math.ceil((p.retry.retryAt - now) / 1000)} s`
          }: ${p.retry.lastError}`,
    ]),
  );
  print('Quarantined keys:');
  table(
    print,
    ['PARTITION', 'KEY', 'RECORDS', 'FIRST OFFSET', 'SINCE', 'ATTEMPTS', 'STATE', 'LAST ERROR'],
    d.quarantined.map((q) => [
      String(q.partition),
      q.key ?? '(no key)',
      String(q.records),
      String(q.firstOffset),
      new Date(q.since).toISOString(),
      String(q.attempts),
      q.releasing ? 'releasing' : 'parked',
      q.lastError,
    ]),
  );
}

async function subscriptionsCommand(
  admin: Admin,
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [action, name] = args;
  const json = values.json === true;
  const done = (sub: Subscription, verb: string): number => {
    print(json ? JSON.stringify(sub) : `${verb} subscription ${sub.name}`);
    return 0;
  };
  switch (action) {
    case 'list': {
      const subs = await admin.listSubscriptions();
      if (json) print(JSON.stringify(subs));
      else
        table(
          print,
          ['SUBSCRIPTION', 'TOPIC', 'TARGET', 'ORDERING', 'STATE'],
          subs.map((s) => [s.name, s.topic, targetText(s.target), s.ordering, s.paused ? 'paused' : 'active']),
        );
      return 0;
    }
    case 'create': {
      if (name === undefined || typeof values.topic !== 'string')
        throw new UsageError('subscriptions create needs a NAME and --topic');
      const { target, filter, onFailure, ...settings } = subscriptionSettings(values);
      if (target === undefined) throw new UsageError('subscriptions create needs --lambda or --https');
      if (filter === null || onFailure === null)
        throw new UsageError('--no-filter and --no-on-failure are for subscriptions update');
      const start = values['starting-position'] as string | undefined;
      if (start !== undefined && start !== 'earliest' && start !== 'latest')
        throw new UsageError('--starting-position is earliest or latest');
      const backoff = backoffOf(values);
      const spec: SubscriptionSpec = {
        name,
        topic: values.topic,
        target,
        ...settings,
        ...(filter === undefined ? {} : { filter }),
        ...(onFailure === undefined ? {} : { onFailure }),
        ...(start === undefined ? {} : { startingPosition: start }),
        ...(backoff === undefined ? {} : { backoff }),
      };
      return done(await admin.createSubscription(spec), 'Created');
    }
    case 'update': {
      if (name === undefined) throw new UsageError('subscriptions update needs a SUBSCRIPTION');
      if (values.topic !== undefined || values['starting-position'] !== undefined)
        throw new UsageError('a subscription keeps its --topic and --starting-position: create another to change them');
      const changes = subscriptionSettings(values);
      const backoff = backoffOf(values);
      // A PATCH replaces the whole backoff: keep the fields not given as they are.
      if (backoff !== undefined) changes.backoff = { ...(await admin.describeSubscription(name)).backoff, ...backoff };
      if (Object.keys(changes).length === 0) throw new UsageError('subscriptions update needs something to change');
      return done(await admin.updateSubscription(name, changes), 'Updated');
    }
    case 'describe': {
      if (name === undefined) throw new UsageError('subscriptions describe needs a SUBSCRIPTION');
      const d = await admin.describeSubscription(name);
      if (json) print(JSON.stringify(d));
      else describeSubscription(d, print);
      return 0;
    }
    case 'pause': {
      if (name === undefined) throw new UsageError('subscriptions pause needs a SUBSCRIPTION');
      return done(await admin.pauseSubscription(name), 'Paused');
    }
    case 'resume': {
      if (name === undefined) throw new UsageError('subscriptions resume needs a SUBSCRIPTION');
      return done(await admin.resumeSubscription(name), 'Resumed');
    }
    case 'delete': {
      if (name === undefined) throw new UsageError('subscriptions delete needs a SUBSCRIPTION');
      await admin.deleteSubscription(name);
      print(json ? JSON.stringify({ deleted: name }) : `Deleted subscription ${name}`);
      return 0;
    }
    default:
      throw new UsageError(`Unknown subscriptions action ${action ?? '(none)'}`);
  }
}

async function quarantineCommand(
  admin: Admin,
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [action, subscription, key] = args;
  if ((action !== 'release' && action !== 'skip') || subscription === undefined || key === undefined)
    throw new UsageError('quarantine release|skip needs a SUBSCRIPTION and a KEY');
  const result =
    action === 'release' ? await admin.releaseKey(subscription, key) : await admin.skipKey(subscription, key);
  if (values.json === true) print(JSON.stringify(result));
  else
    print(
      `${action === 'release' ? 'Released' : 'Skipped'} key ${key} of ${subscription}: ${result.records} record(s) on partition(s) ${result.partitions.join(', ')}`,
    );
  return 0;
}

function isolationOf(values: Record<string, unknown>): { isolation?: 'read_committed' | 'read_uncommitted' } {
  const isolation = values.isolation;
  if (isolation === undefined) return {};
  if (isolation !== 'read_committed' && isolation !== 'read_uncommitted')
    throw new UsageError('--isolation is read_committed or read_uncommitted');
  return { isolation };
}

/** `transactions …`: a transactional producer's steps, one request each (the epoch and sequence are the caller's to keep). */
async function transactionsCommand(
  http: Connection,
  args: string[],
  values: Record<string, unknown>,
  stdin: NodeJS.ReadableStream & { isTTY?: boolean },
  print: (l: string) => void,
): Promise<number> {
  const [action, id, ...inline] = args;
  if (id === undefined) throw new UsageError(`transactions ${action ?? ''} needs a transactional ID`);
  const path = `v1/transactions/${encodeURIComponent(id)}`;
  const json = values.json === true;
  const number = (name: string, required = true) => {
    const n = integer(name, values[name] as string | undefined);
    if (n === undefined && required) throw new UsageError(`transactions ${action} needs --${name}`);
    return n;
  };
  const records = async () => {
    const lines: string[] = [...inline];
    if (lines.length === 0)
      for await (const line of createInterface({ input: stdin, crlfDelay: Infinity }))
        if (line.trim() !== '') lines.push(line);
    return lines.map((text) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
      const named = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && 'topic' in parsed;
      const { topic, ...rest } = (named ? parsed : {}) as { topic?: unknown };
      const message = named
        ? toMessage(JSON.stringify(rest), values.key as string | undefined)
        : toMessage(text, values.key as string | undefined);
      const target = named ? topic : values.topic;
      if (typeof target !== 'string') throw new UsageError('each record names its "topic", or give --topic');
      return { topic: target, ...toWire(message) };
    });
  };
  const show = (out: unknown, line: string) => print(json ? JSON.stringify(out) : line);
  switch (action) {
    case 'init': {
      const out = await http.request<{ epoch: number }>('POST', `${path}/init`);
      show(out, `${id}: epoch ${out.epoch}`);
      return 0;
    }
    case 'describe': {
      const out = await http.request<{
        epoch: number;
        nextSequence: number;
        state: string;
        open?: {
          sequence: number;
          deadline: number;
          partitions: { topic: string; partition: number; firstOffset: number }[];
        };
        last?: { sequence: number; outcome: string };
      }>('GET', path);
      if (json) print(JSON.stringify(out));
      else {
        print(`${id}: epoch ${out.epoch}, ${out.state}, next sequence ${out.nextSequence}`);
        if (out.open !== undefined) {
          print(
            `Open transaction ${out.open.sequence}, aborted at ${new Date(out.open.deadline).toISOString()} if still open`,
          );
          table(
            print,
            ['TOPIC', 'PARTITION', 'FIRST OFFSET'],
            out.open.partitions.map((p) => [p.topic, String(p.partition), String(p.firstOffset)]),
          );
        }
        if (out.last !== undefined) print(`Last: transaction ${out.last.sequence} ${out.last.outcome}`);
      }
      return 0;
    }
    case 'produce': {
      const body = {
        transactionalId: id,
        epoch: number('epoch'),
        ...(values.sequence === undefined ? {} : { sequence: number('sequence') }),
        records: await records(),
      };
      const out = await http.request<{
        sequence: number;
        batches: { topic: string; partition: number; baseOffset: number; recordCount: number }[];
      }>('POST', 'v1/transactions', { body });
      if (json) print(JSON.stringify(out));
      else
        for (const b of out.batches)
          print(
            `${b.topic}[${b.partition}] @ ${b.baseOffset}..${b.baseOffset + b.recordCount - 1}  (transaction ${out.sequence})`,
          );
      return 0;
    }
    case 'begin': {
      const out = await http.request<{ sequence: number; deadline: number }>('POST', `${path}/begin`, {
        body: {
          epoch: number('epoch'),
          ...(values['timeout-ms'] === undefined ? {} : { timeoutMs: number('timeout-ms') }),
        },
      });
      show(out, `${id}: transaction ${out.sequence} open until ${new Date(out.deadline).toISOString()}`);
      return 0;
    }
    case 'send': {
      const body = {
        epoch: number('epoch'),
        sequence: number('sequence'),
        append: number('append'),
        records: await records(),
      };
      const out = await http.request<{
        batches: { topic: string; partition: number; baseOffset: number; recordCount: number }[];
      }>('POST', `${path}/records`, { body });
      if (json) print(JSON.stringify(out));
      else
        for (const b of out.batches)
          print(`${b.topic}[${b.partition}] @ ${b.baseOffset}..${b.baseOffset + b.recordCount - 1}  (uncommitted)`);
      return 0;
    }
    case 'commit':
    case 'abort': {
      const out = await http.request<{ outcome: string }>('POST', `${path}/${action}`, {
        body: { epoch: number('epoch'), sequence: number('sequence') },
      });
      show(out, `${id}: transaction ${values.sequence as string} ${out.outcome}`);
      return 0;
    }
    default:
      throw new UsageError('transactions init|describe|produce|begin|send|commit|abort');
  }
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `0x${Buffer.from(v).toString('hex')}`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function humanRecord(r: ReceivedRecord): string {
  const headers = Object.entries(r.headers)
    .map(([k, v]) => `${k}=${show(v)}`)
    .join(',');
  return `${r.topic}[${r.partition}] @ ${r.offset}  ${new Date(r.timestamp).toISOString()}  key=${r.key === null ? '-' : show(r.key)}${headers ? `  headers=${headers}` : ''}  ${show(r.value)}`;
}

function jsonRecord(r: ReceivedRecord): unknown {
  const bytes = (v: unknown) => (v instanceof Uint8Array ? { base64: Buffer.from(v).toString('base64') } : v);
  return {
    ...r,
    key: bytes(r.key),
    value: bytes(r.value),
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, bytes(v)])),
  };
}

/** `sluice streams append|read|show`: event streams (the event store, routes under /v1/streams). */
async function streamsCommand(
  streams: EventStreams,
  args: string[],
  values: Record<string, unknown>,
  io: { stdin: NodeJS.ReadableStream },
  print: (l: string) => void,
): Promise<number> {
  const [action, streamId, ...events] = args;
  const json = values.json === true;
  const optionalInt = (name: string): number | undefined => {
    const raw = values[name] as string | undefined;
    if (raw === undefined) return undefined;
    if (!/^-?\d+$/.test(raw)) throw new UsageError(`--${name} must be an integer`);
    return Number(raw);
  };
  if (streamId === undefined) throw new UsageError(`streams ${action ?? '(no action)'} needs a STREAM`);
  switch (action) {
    case 'append': {
      const raw = values['expected-version'] as string | undefined;
      const expectedVersion: ExpectedVersion =
        raw === undefined ? 'any' : /^-?\d+$/.test(raw) ? Number(raw) : (raw as ExpectedVersion);
      const texts = [...events];
      if (texts.length === 0)
        for await (const line of createInterface({ input: io.stdin, crlfDelay: Infinity }))
          if (line.trim() !== '') texts.push(line);
      const parsed = texts.map((text, i) => {
        try {
          return JSON.parse(text) as EventInput;
        } catch {
          throw new UsageError(`event ${i + 1} is not JSON: ${text.slice(0, 80)}`);
        }
      });
      const result = await streams.append(streamId, parsed, { expectedVersion });
      print(
        json
          ? JSON.stringify(result)
          : `Appended ${streamId} versions ${result.firstVersion}..${result.lastVersion} (partition ${result.positions[0]?.partition}, offsets ${result.positions[0]?.offset}..${result.positions.at(-1)?.offset})`,
      );
      return 0;
    }
    case 'read': {
      const from = optionalInt('from-version') ?? 0;
      const to = optionalInt('to-version');
      const max = optionalInt('max');
      let count = 0;
      const rows: string[][] = [];
      for await (const e of streams.events(streamId, {
        fromVersion: from,
        ...(to === undefined ? {} : { toVersion: to }),
      })) {
        if (max !== undefined && count >= max) break;
        count++;
        if (json) print(JSON.stringify(e));
        else rows.push([String(e.version), e.type, new Date(e.timestamp).toISOString(), JSON.stringify(e.data)]);
      }
      if (!json) table(print, ['VERSION', 'TYPE', 'TIMESTAMP', 'DATA'], rows);
      return 0;
    }
    case 'show': {
      const d = await streams.describe(streamId);
      if (json) print(JSON.stringify(d));
      else {
        print(
          `${d.streamId}: version ${d.version}, partition ${d.partition}, last event ${new Date(d.lastTimestamp).toISOString()}`,
        );
        const snaps = Object.entries(d.snapshots);
        if (snaps.length > 0)
          table(
            print,
            ['REDUCER', 'SNAPSHOT VERSION', 'REDUCER VERSION'],
            snaps.map(([name, s]) => [name, String(s.version), String(s.reducerVersion)]),
          );
      }
      return 0;
    }
    default:
      throw new UsageError(`Unknown streams action ${action ?? '(none)'}`);
  }
}

async function jobsCommand(
  jobs: Jobs,
  args: string[],
  values: Record<string, unknown>,
  print: (l: string) => void,
): Promise<number> {
  const [action, job] = args;
  const json = values.json === true;
  switch (action) {
    case 'list': {
      const names: string[] = [];
      for await (const name of jobs.names()) names.push(name);
      if (json) print(JSON.stringify(names));
      else
        table(
          print,
          ['JOB'],
          names.map((n) => [n]),
        );
      return 0;
    }
    case 'describe': {
      if (job === undefined) throw new UsageError('jobs describe needs a JOB');
      const d = await jobs.describeJob(job);
      if (json) print(JSON.stringify(d));
      else describeJobTable(d, print);
      return 0;
    }
    default:
      throw new UsageError(`Unknown jobs action ${action ?? '(none)'}`);
  }
}

/** Event times as ISO dates when they look like epoch milliseconds (after 1973), else as numbers. */
const eventTime = (ms: number | null): string =>
  ms === null ? '-' : ms >= 1e11 && ms <= 8.64e15 ? new Date(ms).toISOString() : String(ms);
const orDash = (v: number | boolean | null): string => (v === null ? '-' : String(v));

function describeJobTable(d: JobDescription, print: (l: string) => void): void {
  const lag = d.partitions.reduce((n, p) => n + (p.lag ?? 0), 0);
  print(
    `Job ${d.name}: source ${d.source || '(unknown)'}, version ${d.version}, watermark ${eventTime(d.watermark)}, total lag ${lag}`,
  );
  table(
    print,
    ['PARTITION', 'POSITION', 'HIGH WATERMARK', 'LAG', 'MAX EVENT TIME', 'WATERMARK', 'IDLE'],
    d.partitions.map((p) => [
      String(p.partition),
      orDash(p.nextOffset),
      orDash(p.highWatermark),
      orDash(p.lag),
      eventTime(p.maxEventTime),
      eventTime(p.watermark),
      orDash(p.idle),
    ]),
  );
  const w = d.openWindows;
  print(
    `Open windows: ${w.keys} keys, ${w.panes} panes, ${w.sessions} sessions, ${w.timers} timers; state ${d.stateBytes} bytes`,
  );
}

function table(print: (l: string) => void, head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  print(line(head));
  for (const r of rows) print(line(r));
  if (rows.length === 0) print('(none)');
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
