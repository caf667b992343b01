import { InvalidArgument } from '../errors.ts';
import type { Operator } from './operator.ts';
import {
  tableSinkOf,
  tableWriteAddress,
  tableWriteOf,
  type TableSink,
  type TableSinkOptions,
  type TableWrite,
} from './tableSink.ts';
import {
  combinedWatermark,
  laterWatermark,
  type IdlenessPolicy,
  type PartitionProgress,
  type WatermarkStrategy,
} from './watermarks.ts';
import type { WindowResult } from './windowOperator.ts';
import type { TimeDomain } from './windows.ts';

/**
 * The processing model of issue 16, as a pure step function a runner drives batch by batch.
 *
 * Semantics, per event in input order:
 * 1. A record whose offset is below its partition’s `nextOffset` was processed already and is skipped.
 * 2. The event is judged against the job’s current watermark `W` (see `windowOperator.ts`): fixed
 *    windows accept it while its last window’s `end + allowedLateness > W`; sessions accept it
 *    while `timestamp + allowedLateness >= W`. Otherwise it goes to the late side output only.
 * 3. An accepted event that lands in windows the watermark has passed re-emits them at once.
 * 4. The partition’s largest event time moves; the job’s watermark becomes
 *    max(W, min over non-idle partitions of (max event time − bound)); windows whose end the
 *    watermark passed fire in (end, start, key) order, and expired state is dropped.
 * Before the batch, the watermark is recomputed at `now`, so an empty batch can fire windows once
 * partitions go idle. Outputs therefore depend only on the records’ order per step and on `now`,
 * not on how the records were split into batches (the oracle test checks this).
 *
 * @debt Each step deep-copies the state (`structuredClone`), and session windows rescan every key
 * whenever the watermark crosses some session’s end: fine for thousands of keys, not millions. The
 * runner must declare its partitions (`initialState(partitions)`), or a partition that has not yet
 * delivered does not hold the watermark back. State carries no description of the pipeline that
 * made it: a runner must refuse state from a different job definition.
 */
/** One input record as the runner read it from the source topic. */
export interface InputRecord {
  partition: number;
  offset: number;
  value: unknown;
}

/** A record for the runner to append to a topic. */
export interface OutputRecord {
  topic: string;
  key: string;
  value: unknown;
}

/**
 * A record that reached no result: later than the watermark and allowed lateness permit, or with
 * a timestamp that is not a finite number. The runner appends it to `topic`, the late-data side
 * output, so nothing is dropped silently.
 */
export interface LateRecord extends OutputRecord {
  partition: number;
  offset: number;
  /** The event time, `null` when the timestamp function gave no finite number. */
  timestamp: number | null;
  /** The job’s watermark when the record arrived. */
  watermark: number | null;
  reason: 'late' | 'invalidTimestamp';
}

/**
 * Everything a job remembers between batches, as plain JSON: the job’s watermark, per partition
 * the next offset and event-time progress, and the operator’s state per key (window panes or
 * session extents with their accumulators, or a process function’s state and timers). A runner
 * stores it together with the batch’s outputs and input offsets, atomically.
 */
export interface JobState {
  version: 1;
  watermark: number | null;
  partitions: Record<string, PartitionProgress>;
  keys: Record<string, unknown>;
}

/**
 * What one step produced: the next state, the records to append, the late side output, and the
 * items its table sinks put (the last one per item, as DynamoDB takes one write of an item per
 * transaction; each is a whole item, so the last is what a series of puts would leave).
 */
export interface StepResult {
  state: JobState;
  outputs: OutputRecord[];
  late: LateRecord[];
  tableWrites: TableWrite[];
}

/** The assembled pipeline, as `stream(…)…to(topic)` builds it. */
export interface JobSpec {
  source: string;
  timestamp: (value: never) => number;
  watermark: WatermarkStrategy;
  idleness: IdlenessPolicy | undefined;
  keyBy: (value: never) => string | number;
  time: TimeDomain;
  operator: Operator;
  lateTopic: string;
  /** filter, map and flatMap after the operator, each as a flatMap. */
  stages: ((value: unknown) => Iterable<unknown>)[];
  sink: { topic: string; key: ((value: never) => string) | undefined };
  /** True when the operator emits window results (`aggregate`, `reduce`): they carry `window`. */
  windowed: boolean;
  /** Tables the results are upserted into as well (`toTable`), in the order they were added. */
  tables: readonly TableSink[];
}

/**
 * A stream-processing job (of results `O`) as a pure step function: the same state, batch and
 * clock always give the same result, and the input state is never changed. Feeding a partition’s
 * records in any split into batches gives the same outputs, as long as `now` does not make a
 * partition idle in between.
 *
 * @example
 * let state = job.initialState([0, 1, 2, 3]);
 * const { state: next, outputs, late, tableWrites } = job.step(state, records, Date.now());
 * // commit next, outputs, late, tableWrites and the records’ offsets atomically, then state = next
 */
export class StreamJob<O = unknown> {
  readonly spec: JobSpec;
  constructor(spec: JobSpec) {
    this.spec = spec;
  }

  /** The source topic. */
  get source(): string {
    return this.spec.source;
  }

  /**
   * Upserts each result into a DynamoDB table as well, in the same atomic write as the topic’s
   * records (see tableSink.ts): the item is the result’s attributes, keyed by `pk` = the stream’s
   * key and `sk` = the window’s start (ISO 8601) unless `key` says otherwise, with `windowStart`
   * and `windowEnd` (epoch ms) for window results. The runner needs `tables`, a `TableSinkWriter`.
   *
   * @example
   * stream(…).keyBy(…).window(…).aggregate(…).map(toAlert).to('fraud-alerts').toTable('fraud-alerts-table')
   */
  toTable(table: string, options: TableSinkOptions<O> = {}): StreamJob<O> {
    const sink = tableSinkOf(this.spec, table, options);
    return new StreamJob<O>({ ...this.spec, tables: [...this.spec.tables, sink] });
  }

  /**
   * A fresh state. Declared partitions hold the watermark back until they deliver events or go
   * idle; undeclared ones count from their first record.
   */
  initialState(partitions: readonly number[] = []): JobState {
    const state: JobState = { version: 1, watermark: null, partitions: {}, keys: {} };
    for (const p of partitions)
      state.partitions[String(p)] = { nextOffset: null, maxTimestamp: null, lastActiveAt: null };
    return state;
  }

  /**
   * Processes one batch at the runner’s clock `now` (milliseconds): advances the watermark (idle
   * partitions may let it move even with an empty batch), then handles the records in order,
   * skipping any whose offset is below the partition’s next offset (a redelivery).
   */
  step(state: JobState, batch: readonly InputRecord[], now: number): StepResult {
    if (state?.version !== 1)
      throw new InvalidArgument('state', 'state must come from initialState() or a previous step');
    if (!Number.isFinite(now)) throw new InvalidArgument('now', 'now must be a finite number of milliseconds');
    const spec = this.spec;
    const s = structuredClone(state);
    const outputs: OutputRecord[] = [];
    const late: LateRecord[] = [];
    const tableWrites = new Map<string, TableWrite>();
    const timestampOf = spec.timestamp as (value: unknown) => number;
    const keyOf = spec.keyBy as (value: unknown) => string | number;
    const sinkKey = spec.sink.key as ((value: unknown) => string) | undefined;

    const emit = (key: string, value: unknown) => {
      const window = spec.windowed ? (value as WindowResult<unknown>).window : undefined;
      let values: Iterable<unknown> = [value];
      for (const stage of spec.stages) values = [...values].flatMap((v) => [...stage(v)]);
      for (const v of values) {
        outputs.push({ topic: spec.sink.topic, key: sinkKey ? sinkKey(v) : key, value: v });
        for (const table of spec.tables) {
          const write = tableWriteOf(table, key, window, v);
          const address = tableWriteAddress(write);
          tableWrites.delete(address); // the last write of an item, in the order of last writes
          tableWrites.set(address, write);
        }
      }
    };
    const advance = () => {
      const next =
        spec.time === 'processing'
          ? laterWatermark(s.watermark, now)
          : laterWatermark(s.watermark, combinedWatermark(s.partitions, spec.watermark.boundMs, now, spec.idleness));
      if (next === null || next === s.watermark) return;
      spec.operator.onWatermark(s.keys, s.watermark, next, emit);
      s.watermark = next;
    };

    for (const p of Object.values(s.partitions)) p.lastActiveAt ??= now;
    advance();
    for (const [i, record] of batch.entries()) {
      const { partition, offset, value } = record;
      if (!Number.isSafeInteger(partition) || partition < 0 || !Number.isSafeInteger(offset) || offset < 0) {
        throw new InvalidArgument(`batch[${i}]`, 'each input record needs a non-negative integer partition and offset');
      }
      const progress = (s.partitions[String(partition)] ??= {
        nextOffset: null,
        maxTimestamp: null,
        lastActiveAt: now,
      });
      if (progress.nextOffset !== null && offset < progress.nextOffset) continue;
      progress.nextOffset = offset + 1;
      progress.lastActiveAt = now;
      const key = String(keyOf(value));
      const timestamp = spec.time === 'processing' ? now : timestampOf(value);
      const sideOutput = (reason: LateRecord['reason']) =>
        late.push({
          topic: spec.lateTopic,
          key,
          value,
          partition,
          offset,
          timestamp: Number.isFinite(timestamp) ? timestamp : null,
          watermark: s.watermark,
          reason,
        });
      if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
        sideOutput('invalidTimestamp');
        continue;
      }
      if (!spec.operator.onEvent(s.keys, key, timestamp, value, s.watermark, emit)) sideOutput('late');
      if (progress.maxTimestamp === null || timestamp > progress.maxTimestamp) progress.maxTimestamp = timestamp;
      advance();
    }
    return { state: s, outputs, late, tableWrites: [...tableWrites.values()] };
  }
}
