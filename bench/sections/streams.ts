import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoAtomicWriter } from '../../core/adapters/dynamodb/dynamoAtomic.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { DynamoGroupStore } from '../../core/groups/dynamoGroupStore.ts';
import { MAX_READ_BYTES } from '../../core/log/read.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { DynamoJobStateStore } from '../../core/streams/dynamoJobStateStore.ts';
import { DynamoTableSink, createSinkTable } from '../../core/streams/dynamoTableSink.ts';
import type { InputRecord, JobState } from '../../core/streams/job.ts';
import { JobRunner, LATE_HEADERS } from '../../core/streams/runner.ts';
import type { JobSave, JobStateStore, ListJobsOptions, StoredJobState } from '../../core/streams/stateStore.ts';
import {
  fraudJob,
  generateTransactions,
  type FraudAlert,
  type GeneratedTransaction,
  type Transaction,
} from '../../examples/streams/fraudDetection.ts';
import { billedClient, type BilledUnits } from '../meteredClient.ts';
import { PlainFraudDetector } from '../plainFraudDetector.ts';
import type { BenchSection } from '../section.ts';
import { PRICES } from './costPerMessage.ts';

const EVENTS = 100_000; // issue 16: 100,000 generated transactions…
const USERS = 1_000; // …of 1,000 users…
const PARTITIONS = 4; // …on 4 partitions
const MINUTES = 240; // of traffic: 1,000 users make about 101,700 transactions in 4 hours; the first 100,000 to arrive are kept
const MAX_RECORDS = 1_000; // per partition per step (runOnce), and per partition per poll: 4,000 events a step
const STEP_SIZES = [250, 500, 2_000]; // maxRecords of the same job run again, to show what a step's size does
const RUNNER_DEFAULT_MAX_RECORDS = 500; // RunOnceOptions.maxRecords' default
const PRODUCE_BATCH = 500; // records per produce call, in arrival order
const MINUTE = 60_000;
const BOUND_MS = 5_000; // the job's watermark bound, boundedOutOfOrderness('5s')
const FLUSH_AFTER_MS = 6 * MINUTE; // a runner's clock past the job's 5-minute idleness: the last windows fire
const TABLES = { log: 'bench-streams-log', metadata: 'bench-streams-meta' };
const LIVE_TABLES = { log: 'bench-streams-live-log', metadata: 'bench-streams-live-meta' };
const PLAIN = { group: 'bench-plain-fraud', alerts: 'plain-fraud-alerts', late: 'plain-transactions-late' };
const LIVE = {
  minutes: 28, // of traffic, replayed…
  speedup: 60, // …60 times faster than its event time: 28 minutes in 28 s, about 440 transactions/s
  produceEveryMs: 50, // the producer appends what has arrived every 50 ms
  stepEveryMs: 250, // the runner steps every 250 ms, as the job's Lambda would on a schedule
  seed: 11,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const canonical = (xs: readonly unknown[]) => xs.map((x) => JSON.stringify(x)).sort();

/**
 * The job's state store, keeping each state a step writes (a step's result is a fresh object the
 * runner never changes again) and the bytes each save writes (what the state costs a step: its
 * head and the panes it changed, 2 units per KB in the transaction), and its watermark says, in the
 * live phase, which windows a commit made readable. Sizes are taken after the timed runs.
 */
class KeepingStateStore implements JobStateStore {
  readonly saved: JobState[] = [];
  /** Per save, the bytes it writes: the head and the chunks whose bytes changed. */
  readonly written: number[] = [];
  private readonly inner: JobStateStore;

  constructor(inner: JobStateStore) {
    this.inner = inner;
  }

  load(job: string, cached?: StoredJobState): Promise<StoredJobState | undefined> {
    return this.inner.load(job, cached);
  }

  save(...args: Parameters<JobStateStore['save']>): JobSave {
    this.saved.push(args[1]);
    const save = this.inner.save(...args);
    const { head, chunks } = save.stored.layout;
    const changed = [...chunks.values()].filter((c) => c.version === save.stored.version);
    this.written.push(
      Buffer.byteLength(JSON.stringify(head)) + changed.reduce((n, c) => n + Buffer.byteLength(c.json), 0),
    );
    return save;
  }

  list(options?: ListJobsOptions) {
    return this.inner.list(options);
  }
}

/** Requests per DynamoDB command (the meter sums capacity only). */
function commandCounter(client: DynamoDBClient) {
  let counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = (context.commandName ?? '?').replace(/Command$/, '');
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCommands' },
  );
  return { reset: () => void (counts = new Map()), read: () => new Map(counts) };
}

/** Tables, engine and topics of one phase, on a billed client. */
async function setUp(tables: { log: string; metadata: string }) {
  const meter = billedClient();
  const commands = commandCounter(meter.client);
  await createTables(meter.client, tables);
  const store = new DynamoStore({ client: meter.client, tables });
  const sluice = new Sluice({ log: store, metadata: store, atomic: new DynamoAtomicWriter({ client: meter.client }) });
  const topics: [string, number][] = [
    [fraudJob.source, PARTITIONS],
    [fraudJob.spec.sink.topic, PARTITIONS],
    [fraudJob.spec.lateTopic, 1],
    [PLAIN.alerts, PARTITIONS],
    [PLAIN.late, 1],
  ];
  for (const [topic, partitions] of topics) await sluice.createTopic(topic, { partitions });
  // The job's alerts also go to a table (the example's `toTable`), upserted in each step's transaction.
  const alertTable = `${tables.metadata}-alerts`;
  await createSinkTable(meter.client, alertTable);
  const sink = new DynamoTableSink({ tables: { [fraudJob.spec.tables[0]!.table]: alertTable } });
  /** A runner of the fraud job under `name` (its own state), keeping the states it writes. */
  const runnerOf = (name: string) => {
    const states = new KeepingStateStore(new DynamoJobStateStore({ client: meter.client, table: tables.metadata }));
    return { states, runner: new JobRunner({ sluice, store: states, job: fraudJob, name, tables: sink }) };
  };
  return { meter, commands, sluice, runnerOf };
}

/**
 * The fraud job over the whole backlog, `maxRecords` per partition per step, until it has
 * consumed every transaction; then once more with its clock past the idleness timeout, so that
 * the last windows fire (the producers have stopped). Timed and metered.
 */
async function runJob(phase: Awaited<ReturnType<typeof setUp>>, name: string, maxRecords: number) {
  const { meter, commands } = phase;
  const { runner, states } = phase.runnerOf(name);
  meter.reset();
  commands.reset();
  const started = performance.now();
  const job = { events: 0, steps: 0, alerts: 0, late: 0 };
  const step = async (now?: number) => {
    const r = await runner.runOnce({ maxRecords, ...(now === undefined ? {} : { now }) });
    if (r.conflicts > 0) throw new Error('a lone runner met a conflict');
    if (r.committed) job.steps++;
    job.events += r.records;
    job.alerts += r.outputs;
    job.late += r.late;
    return r.committed;
  };
  while (job.events < EVENTS)
    if (!(await step())) throw new Error(`the runner stopped after ${job.events} of ${EVENTS} transactions`);
  const flushAt = Date.now() + FLUSH_AFTER_MS;
  while (await step(flushAt));
  const run: Run = {
    ...job,
    seconds: (performance.now() - started) / 1000,
    units: meter.read(),
    commands: commands.read(),
  };
  return { ...run, states: states.saved, written: states.written };
}

/**
 * B: a plain consumer-group member over the backlog, polling as much per partition as a step of
 * the job reads, doing the job's arithmetic in memory, appending alerts and late transactions with
 * plain appends, and committing offsets after each poll. Timed and metered.
 */
async function runPlain(phase: Awaited<ReturnType<typeof setUp>>, group: string) {
  const { meter, commands, sluice } = phase;
  const groups = new ConsumerGroups({
    store: new DynamoGroupStore({ client: meter.client, table: TABLES.metadata }),
    sluice,
  });
  const member = await groups.join(group, {
    topics: [fraudJob.source],
    autoOffsetReset: 'earliest',
    sessionTimeoutMs: 60_000,
  });
  meter.reset();
  commands.reset();
  const b0 = performance.now();
  const detector = new PlainFraudDetector(PARTITIONS);
  const plainAlerts: FraudAlert[] = [];
  const plainLate: unknown[] = [];
  const consumer = { events: 0, steps: 0, alerts: 0, late: 0 };
  const publish = async (alerts: FraudAlert[], late: { partition: number; offset: number; value: unknown }[]) => {
    consumer.alerts += alerts.length;
    consumer.late += late.length;
    plainAlerts.push(...alerts);
    plainLate.push(...late.map((l) => l.value));
    await Promise.all([
      alerts.length > 0 &&
        sluice.append(
          PLAIN.alerts,
          alerts.map((a) => ({ key: a.userId, value: a })),
        ),
      late.length > 0 &&
        sluice.append(
          PLAIN.late,
          late.map((l) => ({
            key: (l.value as Transaction).userId,
            value: l.value,
            headers: {
              [LATE_HEADERS.source]: fraudJob.source,
              [LATE_HEADERS.partition]: String(l.partition),
              [LATE_HEADERS.offset]: String(l.offset),
              [LATE_HEADERS.timestamp]: String((l.value as Transaction).timestamp),
              [LATE_HEADERS.watermark]: String(detector.watermark),
              [LATE_HEADERS.reason]: 'late',
            },
          })),
        ),
    ]);
  };
  for (let empty = 0; consumer.events < EVENTS;) {
    const { records } = await groups.poll(group, member.memberId, {
      maxRecords: PARTITIONS * MAX_RECORDS,
      maxBytes: MAX_READ_BYTES,
    });
    consumer.steps++;
    if (records.length === 0 && ++empty > 10) throw new Error(`the consumer stopped at ${consumer.events}`);
    // In the runner's order (partition by partition) so that each event meets the same watermark.
    records.sort((x, y) => x.partition - y.partition || x.offset - y.offset);
    const alerts: FraudAlert[] = [];
    const late: (typeof records)[number][] = [];
    for (const r of records) if (detector.add(r.partition, r.value as Transaction, alerts)) late.push(r);
    await publish(alerts, late);
    const next = new Map<number, number>();
    for (const r of records) next.set(r.partition, r.offset + 1);
    if (next.size > 0)
      await groups.commit(group, {
        memberId: member.memberId,
        generation: member.generation,
        offsets: [...next].map(([partition, offset]) => ({ topic: fraudJob.source, partition, offset })),
      });
    consumer.events += records.length;
  }
  const lastAlerts: FraudAlert[] = [];
  detector.flush(lastAlerts);
  await publish(lastAlerts, []);
  const run: Run = {
    ...consumer,
    seconds: (performance.now() - b0) / 1000,
    units: meter.read(),
    commands: commands.read(),
  };
  return { ...run, written: { alerts: plainAlerts, late: plainLate } };
}

/**
 * Where the time goes: the job's pure step (`StreamJob.step`, no I/O) over the batches a runner
 * reads from `logs`, with and without the state's JSON round trip a step pays in the store, and the
 * plain detector over the same records; in seconds, in this process, the faster of two runs.
 */
function computeTimes(logs: readonly InputRecord[][]) {
  const batches: InputRecord[][] = [];
  for (let from = 0; logs.some((l) => l.length > from); from += MAX_RECORDS)
    batches.push(logs.flatMap((l) => l.slice(from, from + MAX_RECORDS)));
  const now = Date.now();
  const timeJob = (roundTrip: boolean) => {
    const started = performance.now();
    let state = fraudJob.initialState(Array.from({ length: PARTITIONS }, (_, p) => p));
    for (const batch of batches) {
      state = fraudJob.step(state, batch, now).state;
      if (roundTrip) state = JSON.parse(JSON.stringify(state)) as JobState;
    }
    fraudJob.step(state, [], now + FLUSH_AFTER_MS);
    return (performance.now() - started) / 1000;
  };
  const timePlain = () => {
    const started = performance.now();
    const detector = new PlainFraudDetector(PARTITIONS);
    const alerts: FraudAlert[] = [];
    for (const batch of batches) for (const r of batch) detector.add(r.partition, r.value as Transaction, alerts);
    detector.flush(alerts);
    return (performance.now() - started) / 1000;
  };
  // The faster of two runs each: this process shares its cores with DynamoDB Local.
  return {
    step: Math.min(timeJob(false), timeJob(false)),
    stepAndJson: Math.min(timeJob(true), timeJob(true)),
    plain: Math.min(timePlain(), timePlain()),
  };
}

/** Every record of a topic, read_committed, partition by partition. */
async function readAll(sluice: Sluice, topic: string): Promise<unknown[]> {
  const values: unknown[] = [];
  const { config } = await sluice.topic(topic);
  for (let p = 0; p < config.partitions; p++) {
    for (let offset = 0; ;) {
      const page = await sluice.read(topic, p, offset, { isolation: 'read_committed', maxRecords: 5000 });
      values.push(...page.records.map((r) => r.value));
      if (page.nextOffset === offset) break;
      offset = page.nextOffset;
    }
  }
  return values;
}

interface Run {
  readonly seconds: number;
  readonly events: number;
  /** Commits (runner) or polls (plain consumer). */
  readonly steps: number;
  readonly alerts: number;
  readonly late: number;
  readonly units: BilledUnits;
  readonly commands: Map<string, number>;
}

/**
 * The fraud pipeline (examples/streams/fraudDetection.ts) on DynamoDB Local over 100,000
 * generated transactions of 1,000 users on 4 partitions, produced beforehand (untimed):
 * - run by `JobRunner` with `DynamoJobStateStore`, exactly once (each step one transaction of the
 *   alerts, the late transactions and the whole state), until it has consumed everything;
 * - against a plain consumer-group member over the same records doing the same arithmetic in Maps
 *   (`PlainFraudDetector`), appending alerts and late transactions with plain appends and
 *   committing offsets after each poll (at least once, state lost on a crash);
 * - and, in a short live phase, the time from the append that lets the watermark pass a window's
 *   end to the commit that makes the window's alerts readable, with the runner stepping every
 *   250 ms beside a producer.
 */
export const streamsSection: BenchSection = {
  name: 'streams',
  async run() {
    const backlog = await setUp(TABLES);
    const { sluice } = backlog;
    const arrivals = generateTransactions({ users: USERS, minutes: MINUTES })
      .sort((a, b) => a.at - b.at)
      .slice(0, EVENTS);
    if (arrivals.length < EVENTS) throw new Error(`the generator made ${arrivals.length} of ${EVENTS} transactions`);
    const logs: InputRecord[][] = Array.from({ length: PARTITIONS }, () => []); // what each partition holds
    for (let i = 0; i < arrivals.length; i += PRODUCE_BATCH) {
      const batch = arrivals.slice(i, i + PRODUCE_BATCH);
      const written = await sluice.append(
        fraudJob.source,
        batch.map((a) => ({ key: a.key, value: a.value })),
      );
      written.forEach((w, k) => logs[w.partition]!.push({ ...w, value: batch[k]!.value }));
    }

    // A, the job exactly once, and B, the plain consumer, each from the start under a new name.
    // Round 1 meets a cold DynamoDB Local (its JVM warms up over the first minute) and is the one
    // whose outputs are checked; then the job in other step sizes, which warms it further; then
    // two rounds in either order (plain then job, job then plain), whose times are summed per side:
    // the opposite orders cancel a steady drift (DynamoDB Local still warming, the machine's load).
    type Round = { job: Awaited<ReturnType<typeof runJob>>; plain: Awaited<ReturnType<typeof runPlain>> };
    const rounds: Round[] = [];
    const round = async (jobFirst: boolean) => {
      const n = rounds.length + 1;
      const job = jobFirst ? await runJob(backlog, `bench-fraud-${n}`, MAX_RECORDS) : undefined;
      const plain = await runPlain(backlog, `${PLAIN.group}-${n}`);
      rounds.push({ job: job ?? (await runJob(backlog, `bench-fraud-${n}`, MAX_RECORDS)), plain });
    };
    await round(true);
    // The first job's alerts and late transactions, as read_committed readers see them, against the plain consumer's.
    const jobAlerts = await readAll(sluice, fraudJob.spec.sink.topic);
    const jobLate = await readAll(sluice, fraudJob.spec.lateTopic);
    const { written } = rounds[0]!.plain;
    const sameAlerts =
      JSON.stringify(canonical(jobAlerts)) === JSON.stringify(canonical(written.alerts)) &&
      JSON.stringify(canonical(jobLate)) === JSON.stringify(canonical(written.late));
    const compared = `${jobAlerts.length} vs ${written.alerts.length} alerts; ${jobLate.length} vs ${written.late.length} late transactions`;

    // The same job in smaller and larger steps (each under its own name, from the start; their
    // alerts land on fraud-alerts after the comparison above has read it).
    const sizes = [];
    for (const maxRecords of STEP_SIZES)
      sizes.push({ maxRecords, ...(await runJob(backlog, `bench-fraud-${maxRecords}`, maxRecords)) });

    await round(false);
    await round(true);
    const warm = rounds.slice(1);
    const seconds = (runs: Run[]) => runs.reduce((n, r) => n + r.seconds, 0);
    const speed = {
      job: (EVENTS * warm.length) / seconds(warm.map((r) => r.job)),
      plain: (EVENTS * warm.length) / seconds(warm.map((r) => r.plain)),
    };
    // Units and steps are the same every run: the last round's.
    const { job: engine, plain } = rounds.at(-1)!;
    const compute = computeTimes(logs);

    const live = await livePhase();

    const rate = (r: Run) => r.events / r.seconds;
    const per = (r: Run, n: number) => n / r.events;
    const perStep = (r: Run, n: number) => n / r.steps;
    const usdPerMillion = (r: Run) =>
      per(r, r.units.write) * PRICES.dynamoWritePerMillion + per(r, r.units.read) * PRICES.dynamoReadPerMillion;
    const ratio = speed.job / speed.plain;
    // What each step wrote of the state: its head and the chunks (panes) whose bytes changed.
    const stateBytes = engine.written;
    const stateUnits = stateBytes.reduce((n, b) => n + 2 * Math.ceil(b / 1024), 0);
    const kb = (bytes: number) => (bytes / 1024).toFixed(0);
    const requestsOf = (r: Run) =>
      [...r.commands]
        .sort((x, y) => y[1] - x[1])
        .map(([name, n]) => `${name} ${perStep(r, n).toFixed(1)}`)
        .join(', ');
    const row = (what: string, a: string | number, b: string | number) => `| ${what} | ${a} | ${b} |`;
    const table = [
      '| 100,000 transactions, 1,000 users, 4 partitions | stream job (JobRunner, exactly once) | plain group consumer |',
      '|---|---:|---:|',
      row('events consumed', engine.events, plain.events),
      row('alerts / late transactions written', `${engine.alerts} / ${engine.late}`, `${plain.alerts} / ${plain.late}`),
      row(
        'seconds, rounds 2 + 3 (DynamoDB Local)',
        warm.map((r) => r.job.seconds.toFixed(1)).join(' + '),
        warm.map((r) => r.plain.seconds.toFixed(1)).join(' + '),
      ),
      row('events/s, rounds 2 and 3 together (DynamoDB Local)', speed.job.toFixed(0), speed.plain.toFixed(0)),
      row('× plain', ratio.toFixed(2), '1.00'),
      row(
        'seconds of in-memory compute for one run over the same batches (no I/O)',
        `step() ${compute.step.toFixed(2)}; with the state's JSON round trip ${compute.stepAndJson.toFixed(2)}`,
        compute.plain.toFixed(2),
      ),
      row('steps (commits) / polls', engine.steps, plain.steps),
      row('events per step / poll', perStep(engine, engine.events).toFixed(0), perStep(plain, plain.events).toFixed(0)),
      row(
        'DynamoDB requests per step / poll',
        perStep(engine, engine.units.requests).toFixed(1),
        perStep(plain, plain.units.requests).toFixed(1),
      ),
      row('of which, per step / poll', requestsOf(engine), requestsOf(plain)),
      row(
        'TransactWriteItems per step / poll',
        perStep(engine, engine.commands.get('TransactWriteItems') ?? 0).toFixed(2),
        perStep(plain, plain.commands.get('TransactWriteItems') ?? 0).toFixed(2),
      ),
      row(
        'state written per step (head and changed panes): mean / largest (KB)',
        `${kb(stateBytes.reduce((a, b) => a + b, 0) / stateBytes.length)} / ${kb(Math.max(...stateBytes))}`,
        '— (in memory)',
      ),
      row(
        'write units per event',
        per(engine, engine.units.write).toFixed(3),
        per(plain, plain.units.write).toFixed(3),
      ),
      row('of which the state (≈ 2 units per KB written per step)', per(engine, stateUnits).toFixed(3), '—'),
      row('read units per event', per(engine, engine.units.read).toFixed(3), per(plain, plain.units.read).toFixed(3)),
      row('failed conditional writes', engine.units.failedConditions, plain.units.failedConditions),
      row(
        'USD per million events (DynamoDB on-demand)',
        usdPerMillion(engine).toFixed(3),
        usdPerMillion(plain).toFixed(3),
      ),
    ];
    const meanStateKb = (written: readonly number[]) => kb(written.reduce((n, b) => n + b, 0) / written.length);
    const sizesTable = [
      '| maxRecords per partition | steps | events per step | state per step, mean (KB) | write units per event | read units per event | USD per million events |',
      '|---:|---:|---:|---:|---:|---:|---:|',
      ...[{ maxRecords: MAX_RECORDS, ...engine }, ...sizes]
        .sort((x, y) => x.maxRecords - y.maxRecords)
        .map(
          (r) =>
            `| ${r.maxRecords}${r.maxRecords === MAX_RECORDS ? ' (above)' : r.maxRecords === RUNNER_DEFAULT_MAX_RECORDS ? ' (runOnce default)' : ''} | ${r.steps} | ${perStep(r, r.events).toFixed(0)} | ${meanStateKb(r.written)} | ${per(r, r.units.write).toFixed(3)} | ${per(r, r.units.read).toFixed(3)} | ${usdPerMillion(r).toFixed(3)} |`,
        ),
    ];
    const liveTable = [
      `| live: ${live.events.toLocaleString('en')} transactions over ${live.seconds.toFixed(0)} s (${LIVE.minutes} min of traffic at ${LIVE.speedup}×), runner every ${LIVE.stepEveryMs} ms | value |`,
      '|---|---:|',
      `| alerts timed; runner steps that wrote them | ${live.latencies.length}; ${live.alertSteps} |`,
      `| event-to-alert latency beyond the watermark bound: p50 / p99 / max (ms) | ${live.p50.toFixed(0)} / ${live.p99.toFixed(0)} / ${live.max.toFixed(0)} |`,
      `| runner steps; mean events per step; mean step time (ms) | ${live.steps}; ${(live.events / live.steps).toFixed(0)}; ${live.stepMs.toFixed(0)} |`,
      `| write units per event when stepping every ${LIVE.stepEveryMs} ms | ${live.writeUnitsPerEvent.toFixed(2)} |`,
      `| alerts of steps that passed more than one window end (timed from the earliest) | ${live.multiEndAlerts} |`,
    ];
    return {
      title: 'Stream processing: the fraud pipeline on DynamoDB Local (JobRunner vs a plain group consumer)',
      table: [...table, '', ...sizesTable, '', ...liveTable].join('\n'),
      notes: [
        `${EVENTS.toLocaleString('en')} transactions of the fraud example's generator (${USERS.toLocaleString('en')} users, the first ${EVENTS.toLocaleString('en')} to arrive of ${MINUTES / 60} hours of traffic), produced to ${PARTITIONS} partitions in calls of ${PRODUCE_BATCH} (untimed). The runner reads at most ${MAX_RECORDS} records per partition per step (runOnce maxRecords; its default is ${RUNNER_DEFAULT_MAX_RECORDS}), the consumer polls ${PARTITIONS * MAX_RECORDS} (${MAX_RECORDS} per partition); both end with the step (a clock past the job's idleness timeout) or flush that fires the last windows once the producers stop.`,
        `Each side ran ${rounds.length} times, each from the start under a new name: job then plain (the first, on a cold DynamoDB Local, whose outputs are compared), the step sizes below, plain then job, job then plain; the speeds and their ratio are of rounds 2 and 3 together (their opposite orders cancel a steady warm-up or change of load). Seconds per round, job / plain: ${rounds.map((r) => `${r.job.seconds.toFixed(1)} / ${r.plain.seconds.toFixed(1)}`).join(', ')} (ratios per round ${rounds.map((r) => (rate(r.job) / rate(r.plain)).toFixed(2)).join(', ')}). Only ratios measured in one run are speed claims: DynamoDB Local's absolute speed says little.`,
        `The plain consumer does the job's window arithmetic in Maps (bench/plainFraudDetector.ts, checked against the engine's step in test/unit), sorts each poll partition by partition as a step reads, appends alerts and late transactions with plain appends and commits offsets after each poll: no state store, at least once, its windows lost on a crash. Same alerts and late transactions as the job (first round, read back read_committed): ${sameAlerts ? 'yes' : 'NO'} (${compared}).`,
        `Each step of the job is one TransactWriteItems of the step's alert and late batches and what changed of the job's state: its head (watermark, offsets, the chunk manifest) and the pane chunks its events touched (each 1-minute pane holds every user's accumulator for that minute, so a step rewrites the panes its events fall in, not the 5-minute windows' state): about ${kb(stateBytes.reduce((a, b) => a + b, 0) / stateBytes.length)} KB per step at ${USERS.toLocaleString('en')} users, billed 2 write units per KB. Units are as AWS bills them (bench/meteredClient.ts): a failed conditional write is the log sequencer's first reservation on an output partition (a guess refused and retried).`,
        `The step-size table runs the same job again from the start (one run each; the ${MAX_RECORDS} row is round 3 above) to show what maxRecords does to the units per event; their speeds are not compared (DynamoDB Local warms up as they run).`,
        `USD at DynamoDB on-demand list prices (docs/prices.md: ${PRICES.dynamoWritePerMillion} per million write units, ${PRICES.dynamoReadPerMillion} per million read units); Lambda and storage not included.`,
        `Live phase (its own tables): the generator's traffic for ${LIVE.minutes} minutes (seed ${LIVE.seed}) replayed ${LIVE.speedup}× faster than event time, the producer appending what has arrived every ${LIVE.produceEveryMs} ms while the runner steps every ${LIVE.stepEveryMs} ms (maxRecords ${MAX_RECORDS}). A window can fire once every partition holds an event at or after its end + the 5 s bound; per alert, the latency is from the return of the append that completed that to the return of the runner's commit that wrote the alert (read_committed readers see it from then): the latency beyond the watermark bound, the bound itself (5 s of event time) not in it. Alerts come in per window, so the percentiles rest on ${live.alertSteps} commits; an alert of a step that passed several window ends would be timed from the earliest (an overestimate).`,
      ],
      summary: {
        fraudEventsPerSecRatioVsPlain: Number(ratio.toFixed(2)),
        streamWriteUnitsPerEvent: Number(per(engine, engine.units.write).toFixed(3)),
        streamReadUnitsPerEvent: Number(per(engine, engine.units.read).toFixed(3)),
        streamUsdPerMillionEvents: Number(usdPerMillion(engine).toFixed(3)),
        fraudAlertLatencyP50Ms: Math.round(live.p50),
        fraudAlertLatencyP99Ms: Math.round(live.p99),
      },
    };
  },
};

/**
 * The live phase: a producer appends the generator's traffic as it arrives (sped up), the runner
 * steps beside it, and each alert is timed from the moment its window could first fire.
 */
async function livePhase() {
  const { meter, sluice, runnerOf } = await setUp(LIVE_TABLES);
  const { runner, states } = runnerOf('bench-fraud-live');
  const arrivals: GeneratedTransaction[] = generateTransactions({
    users: USERS,
    minutes: LIVE.minutes,
    seed: LIVE.seed,
  }).sort((a, b) => a.at - b.at);
  const firstAt = arrivals[0]!.at;
  // Per window end (a whole minute), when the log first let the watermark pass it.
  const passable = new Map<number, number>();
  const latest: (number | null)[] = Array.from({ length: PARTITIONS }, () => null);
  // Window ends are whole minutes; none before the first event's minute holds anything.
  let passedUpTo = Math.floor(Math.min(...arrivals.map((a) => a.value.timestamp)) / MINUTE) * MINUTE;
  meter.reset();
  const t0 = performance.now();

  const produce = async () => {
    for (let i = 0; i < arrivals.length; await sleep(LIVE.produceEveryMs)) {
      const due = performance.now() - t0;
      const batch: GeneratedTransaction[] = [];
      for (; i < arrivals.length && (arrivals[i]!.at - firstAt) / LIVE.speedup <= due; i++) batch.push(arrivals[i]!);
      if (batch.length === 0) continue;
      const written = await sluice.append(
        fraudJob.source,
        batch.map((a) => ({ key: a.key, value: a.value })),
      );
      const appendedAt = performance.now();
      written.forEach((w, k) => {
        const t = batch[k]!.value.timestamp;
        if (latest[w.partition] === null || t > latest[w.partition]!) latest[w.partition] = t;
      });
      if (latest.some((l) => l === null)) continue;
      const wm = Math.min(...(latest as number[])) - BOUND_MS;
      for (; passedUpTo + MINUTE <= wm; passedUpTo += MINUTE) passable.set(passedUpTo + MINUTE, appendedAt);
    }
  };

  const commits: { at: number; from: number | null; to: number | null; outputs: number }[] = [];
  const stepTimes: number[] = [];
  let producing = true;
  let events = 0;
  const run = async () => {
    let watermark: number | null = null;
    for (;;) {
      const s0 = performance.now();
      const r = await runner.runOnce({ maxRecords: MAX_RECORDS });
      const at = performance.now();
      stepTimes.push(at - s0);
      events += r.records;
      if (r.committed) {
        const to = states.saved.at(-1)!.watermark;
        commits.push({ at, from: watermark, to, outputs: r.outputs });
        watermark = to;
      }
      if (!producing && r.records === 0) return;
      await sleep(LIVE.stepEveryMs);
    }
  };
  const running = run();
  await produce();
  producing = false;
  await running;
  const seconds = (performance.now() - t0) / 1000;
  const units = meter.read();

  const latencies: number[] = [];
  let alertSteps = 0;
  let multiEndAlerts = 0;
  for (const c of commits) {
    if (c.outputs === 0 || c.to === null) continue;
    const ends: number[] = [];
    const from = c.from === null ? -Infinity : c.from;
    for (const end of [...passable.keys()].sort((a, b) => a - b)) if (end > from && end <= c.to) ends.push(end);
    if (ends.length === 0) throw new Error('a commit wrote alerts without passing a window end');
    alertSteps++;
    if (ends.length > 1) multiEndAlerts += c.outputs;
    for (let k = 0; k < c.outputs; k++) latencies.push(c.at - passable.get(ends[0]!)!);
  }
  latencies.sort((a, b) => a - b);
  if (latencies.length === 0) throw new Error('the live phase raised no alert');
  return {
    events,
    seconds,
    steps: commits.length,
    stepMs: stepTimes.reduce((a, b) => a + b, 0) / stepTimes.length,
    writeUnitsPerEvent: units.write / events,
    latencies,
    alertSteps,
    multiEndAlerts,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.at(-1)!,
  };
}
