/**
 * Runs a `StreamJob` over a Sluice topic, exactly once.
 *
 * The checkpoint model, next to Flink’s. Flink snapshots operator state and source offsets when
 * a checkpoint barrier has flowed through the job, and a two-phase-commit sink (Kafka’s
 * transactional producer) makes the outputs since the last checkpoint visible only once that
 * checkpoint completes; after a crash, the job restarts from the last completed checkpoint and
 * replays its input from the offsets in it. Here every step is a checkpoint, and needs no barrier:
 * one runner drives the job (a pure function of state, batch and clock), so the state after the
 * step — which holds each input partition’s next offset — the step’s outputs and its late records
 * are all known at once, and are written in ONE atomic write (one DynamoDB `TransactWriteItems`,
 * `Sluice.appendAtomically`). Readers of the output topics see all of a step or none of it, as
 * Flink’s `read_committed` consumers do, without a pre-commit phase.
 *
 * - A crash before the write lands loses nothing: the next runner loads the last state and reads
 *   the same records again from its offsets. A crash after it lands loses nothing either: the
 *   next runner loads the new state. An output is therefore written once per step that commits.
 * - The state is a head item and chunk items (stateLayout.ts): window panes in their own chunks,
 *   so a step writes the head and only the panes its events touched. The head’s version is the
 *   commit’s guard (a conditional put). Of two runners that
 *   loaded the same version only one commits; the other’s write is refused whole, and it loads
 *   again and goes on from the state the winner left. No lease is needed for correctness, only
 *   to avoid the wasted work.
 * - A step whose outputs would not fit one transaction (100 items, 4 MB, `MAX_RECORDS_PER_APPEND`
 *   records) is retried on fewer input records — half as many per partition — never written in part.
 *
 * Flink’s cost is one barrier round per checkpoint interval; this one is a transaction per step,
 * so a step should carry many records (`maxRecords`).
 *
 * @debt An input partition whose `nextOffset` retention has already deleted throws
 * `OffsetOutOfRange`; the job has no policy yet (Flink fails the job too, Kafka Streams resets).
 * One key’s state must fit an item (`JobStateTooLarge` beyond). The state is not
 * checked against the job definition that made it (see job.ts): a changed pipeline under the same
 * name reads the old state. A step that overflows a transaction with no records left to halve
 * (windows fired by idleness alone) throws. A refused write gives its output offsets back at once;
 * a crash before the write leaves them as a gap that readers of the output topics stop at until it
 * is `GAP_FILL_AFTER_MS` (30 s) old, then fill and pass.
 */
import { range } from '../async.ts';
import { InvalidArgument, JobContention, TooManyRecords, TransactionTooLarge, isSluiceError } from '../errors.ts';
import { integerOption } from '../log/integerOption.ts';
import { MAX_READ_RECORDS, isolationOption, type Isolation } from '../log/read.ts';
import type { Sluice } from '../log/sluice.ts';
import type { AtomicPart } from '../ports.ts';
import { StreamJob, type InputRecord, type JobState, type StepResult } from './job.ts';
import type { JobStateStore, StoredJobState } from './stateStore.ts';
import type { TableSinkWriter } from './tableSink.ts';

export interface JobRunnerOptions {
  /** The engine, with an `AtomicWriter` (`SluiceOptions.atomic`). */
  readonly sluice: Sluice;
  /** Where the job’s state lives; its parts must join the same atomic writes as the log’s. */
  readonly store: JobStateStore;
  readonly job: StreamJob;
  /** The job’s name: the key of its state, so two runners of one name are the same job. */
  readonly name: string;
  /** Loads and retries when another runner committed first, before `JobContention`. @default 10 */
  readonly maxConflicts?: number;
  /**
   * How the job reads its source. `read_committed` (the default, as Kafka Streams’ exactly-once)
   * waits for open transactions upstream and skips aborted ones; `read_uncommitted` reads past
   * them, so an aborted upstream transaction’s records count.
   */
  readonly isolation?: Isolation;
  /**
   * Writes the job’s table sinks (`toTable`) in its atomic writes: a `DynamoTableSink` (with the
   * physical table names), a `MemoryTableSink` in memory. Required when the job has table sinks.
   */
  readonly tables?: TableSinkWriter;
}

export interface RunOnceOptions {
  /** Most records read from each input partition in one step. @default 500 */
  readonly maxRecords?: number;
  /** The runner’s clock for the step (epoch ms): idleness and processing time read it. @default Date.now() */
  readonly now?: number;
}

/** What one `runOnce` did. */
export interface RunOnceResult {
  /** Input records the committed step consumed (redeliveries included). */
  readonly records: number;
  readonly outputs: number;
  readonly late: number;
  /** False when there was nothing to commit: no record, and a state the step left unchanged. */
  readonly committed: boolean;
  /** Steps refused because another runner committed first, each followed by a fresh load. */
  readonly conflicts: number;
}

const DEFAULT_MAX_RECORDS = 500; // per partition; a step is halved when its outputs overflow a transaction
const DEFAULT_MAX_CONFLICTS = 10; // another runner keeps winning: it is doing the work meanwhile

/** Header names on late records (the original value stays the record’s value). */
export const LATE_HEADERS = {
  source: 'sluice-late-source',
  partition: 'sluice-late-partition',
  offset: 'sluice-late-offset',
  timestamp: 'sluice-late-timestamp',
  watermark: 'sluice-late-watermark',
  reason: 'sluice-late-reason',
} as const;

/**
 * Drives a stream job over its source topic: each `runOnce` reads every input partition from the
 * state’s offsets (`read_committed`), steps the job, and commits outputs, late records and state
 * in one atomic write, with the items of its table sinks (`toTable`) when it has any.
 *
 * @example
 * const runner = new JobRunner({ sluice, store: new DynamoJobStateStore({ client, table }), job, name: 'fraud' });
 * while ((await runner.runOnce({ maxRecords: 200 })).records > 0);
 */
export class JobRunner {
  private readonly sluice: Sluice;
  private readonly store: JobStateStore;
  private readonly job: StreamJob;
  private readonly name: string;
  private readonly maxConflicts: number;
  private readonly isolation: Isolation;
  /** The state this runner last loaded or committed: a load that finds its version reads only the head. */
  private cached: StoredJobState | undefined;
  private readonly tables: TableSinkWriter | undefined;

  constructor(options: JobRunnerOptions) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgument('options', 'options must be an object');
    checkKeys('options', options, ['sluice', 'store', 'job', 'name', 'maxConflicts', 'isolation', 'tables']);
    if (!(options.job instanceof StreamJob))
      throw new InvalidArgument('job', 'job must be a StreamJob, as stream(…)…to(topic) returns');
    if (typeof options.name !== 'string' || options.name.length === 0 || options.name.length > 200)
      throw new InvalidArgument('name', 'name must be a string of 1 to 200 characters (the key of the job’s state)');
    if (typeof options.sluice?.appendAtomically !== 'function' || typeof options.store?.save !== 'function')
      throw new InvalidArgument('options', 'a runner needs a sluice (with an AtomicWriter) and a JobStateStore');
    this.sluice = options.sluice;
    this.store = options.store;
    this.job = options.job;
    this.name = options.name;
    this.maxConflicts = integerOption('maxConflicts', options.maxConflicts, DEFAULT_MAX_CONFLICTS, 1, 1000);
    this.isolation = options.isolation === undefined ? 'read_committed' : isolationOption(options.isolation);
    if (options.tables !== undefined && typeof options.tables?.part !== 'function')
      throw new InvalidArgument('tables', 'tables must be a TableSinkWriter (DynamoTableSink, MemoryTableSink)');
    const sinks = options.job.spec.tables.map((t) => t.table);
    if (sinks.length > 0 && options.tables === undefined)
      throw new InvalidArgument(
        'tables',
        `the job writes to table ${sinks.join(', ')}: give the runner tables, a DynamoTableSink (or MemoryTableSink in memory)`,
      );
    this.tables = options.tables;
  }

  /** One step: load, read, process, commit (retried on a fresh load when another runner committed). */
  async runOnce(options: RunOnceOptions = {}): Promise<RunOnceResult> {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgument('options', 'options must be an object');
    checkKeys('options', options, ['maxRecords', 'now']);
    const maxRecords = integerOption('maxRecords', options.maxRecords, DEFAULT_MAX_RECORDS, 1, MAX_READ_RECORDS);
    const now = options.now ?? Date.now();
    if (!Number.isFinite(now)) throw new InvalidArgument('now', 'now must be a finite number of epoch milliseconds');
    for (let conflicts = 0; conflicts < this.maxConflicts; conflicts++) {
      const loaded = await this.store.load(this.name, this.cached);
      const partitions = (await this.sluice.topic(this.job.source, { fresh: conflicts > 0 })).config.partitions;
      const state = loaded?.state ?? this.job.initialState(range(partitions));
      const read = await this.readInput(state, partitions, maxRecords);
      const outcome = await this.commit(state, loaded, read, maxRecords, now);
      if (outcome !== 'conflict') return { ...outcome, conflicts };
    }
    throw new JobContention(this.name, this.maxConflicts);
  }

  /** Per partition, the records after the state’s offsets (committed ones only, by default). */
  private async readInput(state: JobState, partitions: number, maxRecords: number): Promise<InputRecord[][]> {
    return Promise.all(
      range(partitions).map(async (partition) => {
        const from =
          state.partitions[String(partition)]?.nextOffset ??
          (await this.sluice.offsetFor(this.job.source, partition, 'earliest'));
        const { records } = await this.sluice.read(this.job.source, partition, from, {
          maxRecords,
          isolation: this.isolation,
        });
        return records.map((r) => ({ partition, offset: r.offset, value: r.value }));
      }),
    );
  }

  /** Steps on the first `take` records of each partition, halving `take` until the commit fits one transaction. */
  private async commit(
    state: JobState,
    loaded: StoredJobState | undefined,
    input: InputRecord[][],
    maxRecords: number,
    now: number,
  ): Promise<Omit<RunOnceResult, 'conflicts'> | 'conflict'> {
    for (let take = maxRecords; ; take = Math.floor(take / 2)) {
      const batch = input.flatMap((records) => records.slice(0, take));
      const result = this.job.step(state, batch, now);
      if (batch.length === 0 && JSON.stringify(result.state) === JSON.stringify(state))
        return { records: 0, outputs: 0, late: 0, committed: false };
      try {
        const { watermark, idleness, time } = this.job.spec;
        const save = this.store.save(this.name, result.state, loaded, this.job.source, { watermark, idleness, time });
        const written = await this.sluice.appendAtomically(this.appendsOf(result), () => [
          ...save.parts,
          ...this.tablePartsOf(result),
        ]);
        if (written.outcome === 'rejected') return 'conflict';
        this.cached = save.stored;
        return { records: batch.length, outputs: result.outputs.length, late: result.late.length, committed: true };
      } catch (e) {
        const tooLarge = isSluiceError(e, TransactionTooLarge.name) || isSluiceError(e, TooManyRecords.name);
        // One record per partition that still overflows: the job emits more per event than a commit holds.
        if (!tooLarge || take <= 1) throw e;
      }
    }
  }

  /**
   * The step’s table-sink items as one part of its atomic write (none without items): they land
   * with the step’s records and state or not at all, and each counts toward the transaction’s
   * 100 items and 4 MB, so a step that overflows is halved as for its records.
   */
  private tablePartsOf(result: StepResult): AtomicPart[] {
    if (result.tableWrites.length === 0) return [];
    return [this.tables!.part(result.tableWrites)];
  }

  /** The step’s outputs and late records, grouped by topic in the order the step made them. */
  private appendsOf(result: StepResult): { topic: string; records: unknown[] }[] {
    const byTopic = new Map<string, unknown[]>();
    const add = (topic: string, record: unknown) => {
      const records = byTopic.get(topic) ?? [];
      records.push(record);
      byTopic.set(topic, records);
    };
    for (const o of result.outputs) add(o.topic, { key: o.key, value: o.value });
    for (const l of result.late) {
      add(l.topic, {
        key: l.key,
        value: l.value,
        headers: {
          [LATE_HEADERS.source]: this.job.source,
          [LATE_HEADERS.partition]: String(l.partition),
          [LATE_HEADERS.offset]: String(l.offset),
          [LATE_HEADERS.timestamp]: String(l.timestamp),
          [LATE_HEADERS.watermark]: String(l.watermark),
          [LATE_HEADERS.reason]: l.reason,
        },
      });
    }
    return [...byTopic].map(([topic, records]) => ({ topic, records }));
  }
}

/** Refuses keys an options object does not have (a misspelt option would otherwise be ignored). */
function checkKeys(name: string, options: object, known: readonly string[]): void {
  const unknown = Object.keys(options).find((k) => !known.includes(k));
  if (unknown !== undefined)
    throw new InvalidArgument(`${name}.${unknown}`, `${unknown} is not an option; the options are ${known.join(', ')}`);
}
