import { InvalidArgument } from '../errors.ts';
import { reducing, type Aggregator } from './aggregators.ts';
import { durationMs, type Duration } from './duration.ts';
import { StreamJob, type JobSpec } from './job.ts';
import type { Operator } from './operator.ts';
import { processOperator, type ProcessFunction } from './processOperator.ts';
import type { IdlenessPolicy, WatermarkStrategy } from './watermarks.ts';
import { fixedWindowOperator, sessionWindowOperator, type WindowResult } from './windowOperator.ts';
import type { WindowAssigner } from './windows.ts';

/** How a source topic’s events carry time. */
export interface StreamOptions<T> {
  /** The event time of a value, in milliseconds since the epoch. */
  timestamp: (value: T) => number;
  /** How far events may arrive out of order: `boundedOutOfOrderness(ms)`. */
  watermark: WatermarkStrategy;
  /** Lets idle partitions stop holding the watermark back: `withIdleness(ms)`. @default never idle */
  idleness?: IdlenessPolicy;
}

/** Options of `window()`. */
export interface WindowOptions {
  /** How long after a window fired a late event still updates it (and emits it again). @default 0 */
  allowedLateness?: Duration;
  /** The same in milliseconds, the spelling; give one of the two. */
  allowedLatenessMs?: number;
  /** The side-output topic for events too late for any window. @default `<source topic>-late` */
  lateTopic?: string;
}

interface Partial {
  source: string;
  timestamp: JobSpec['timestamp'];
  watermark: WatermarkStrategy;
  idleness: IdlenessPolicy | undefined;
}

/**
 * Starts a pipeline on a topic.
 *
 * @example
 * const job = stream<Txn>('transactions', { timestamp: (t) => t.timestamp, watermark: boundedOutOfOrderness('5s') })
 *   .keyBy((t) => t.userId)
 *   .window(sliding({ size: '5m', slide: '1m' }))
 *   .aggregate(combine({ count: count<Txn>(), total: sum((t: Txn) => t.amount) }))
 *   .filter((w) => w.result.count > 10 || w.result.total > 5000)
 *   .map((w) => ({ userId: w.key, reason: 'HIGH_VELOCITY', transactionCount: w.result.count, totalAmount: w.result.total }))
 *   .to('fraud-alerts')
 *   .toTable('fraud-alerts-table'); // and upserted by user and window into a DynamoDB table
 */
export function stream<T>(topic: string, options: StreamOptions<T>): SourceStream<T> {
  if (typeof topic !== 'string' || topic.length === 0)
    throw new InvalidArgument('topic', 'stream() needs a topic name');
  if (typeof options?.timestamp !== 'function') {
    throw new InvalidArgument('timestamp', 'stream() needs a timestamp function, e.g. (v) => v.timestamp');
  }
  if (options.watermark?.kind !== 'boundedOutOfOrderness') {
    throw new InvalidArgument('watermark', 'stream() needs a watermark strategy, e.g. boundedOutOfOrderness(’5s’)');
  }
  return new SourceStream<T>({
    source: topic,
    timestamp: options.timestamp,
    watermark: options.watermark,
    idleness: options.idleness,
  });
}

export class SourceStream<T> {
  readonly #base: Partial;
  constructor(base: Partial) {
    this.#base = base;
  }

  /** Partitions the stream by key: windows and process state are per key. */
  keyBy(key: (value: T) => string | number): KeyedStream<T> {
    return new KeyedStream<T>(this.#base, key);
  }
}

export class KeyedStream<T> {
  readonly #base: Partial;
  readonly #keyBy: JobSpec['keyBy'];
  constructor(base: Partial, keyBy: JobSpec['keyBy']) {
    this.#base = base;
    this.#keyBy = keyBy;
  }

  /** Groups each key’s events into windows. */
  window(assigner: WindowAssigner, options: WindowOptions = {}): WindowedStream<T> {
    const known = ['allowedLateness', 'allowedLatenessMs', 'lateTopic'];
    const unknown = Object.keys(options).filter((k) => !known.includes(k));
    if (unknown.length > 0) {
      throw new InvalidArgument(
        unknown[0] as string,
        `unknown window option ${unknown[0]}; use allowedLateness (or allowedLatenessMs) or lateTopic`,
      );
    }
    if (options.allowedLateness !== undefined && options.allowedLatenessMs !== undefined) {
      throw new InvalidArgument('allowedLatenessMs', 'give allowedLateness or allowedLatenessMs, not both');
    }
    const latenessMs = durationMs('allowedLateness', options.allowedLateness ?? options.allowedLatenessMs ?? 0, 0);
    const lateTopic = options.lateTopic ?? `${this.#base.source}-late`;
    return new WindowedStream<T>(this.#base, this.#keyBy, assigner, latenessMs, lateTopic);
  }

  /**
   * Runs a function per event with per-key state and event-time timers. Late events are passed on
   * too; the function sees the watermark and decides.
   */
  process<S, O>(fn: ProcessFunction<T, S, O>): ResultStream<O> {
    const operator = processOperator(fn);
    return new ResultStream<O>(this.#base, this.#keyBy, 'event', operator, `${this.#base.source}-late`, [], false);
  }
}

export class WindowedStream<T> {
  readonly #base: Partial;
  readonly #keyBy: JobSpec['keyBy'];
  readonly #assigner: WindowAssigner;
  readonly #latenessMs: number;
  readonly #lateTopic: string;
  constructor(base: Partial, keyBy: JobSpec['keyBy'], assigner: WindowAssigner, latenessMs: number, lateTopic: string) {
    this.#base = base;
    this.#keyBy = keyBy;
    this.#assigner = assigner;
    this.#latenessMs = latenessMs;
    this.#lateTopic = lateTopic;
  }

  /** One result per key and window, from an aggregator (`count()`, `sum(fn)`, `combine({...})`, your own). */
  aggregate<A, R>(aggregator: Aggregator<T, A, R>): ResultStream<WindowResult<R>> {
    const agg = aggregator as unknown as Aggregator<unknown, unknown, unknown>;
    const a = this.#assigner;
    const operator =
      a.kind === 'session'
        ? sessionWindowOperator(a, agg, this.#latenessMs)
        : fixedWindowOperator(a, agg, this.#latenessMs);
    return new ResultStream(this.#base, this.#keyBy, a.time, operator, this.#lateTopic, [], true);
  }

  /** Folds each window’s events with an associative function. */
  reduce(fn: (a: T, b: T) => T): ResultStream<WindowResult<T>> {
    return this.aggregate(reducing(fn));
  }
}

/** A stream of results (window results or process output), to transform and send to a topic (and tables). */
export class ResultStream<O> {
  readonly #base: Partial;
  readonly #keyBy: JobSpec['keyBy'];
  readonly #time: JobSpec['time'];
  readonly #operator: Operator;
  readonly #lateTopic: string;
  readonly #stages: JobSpec['stages'];
  readonly #windowed: boolean;
  constructor(
    base: Partial,
    keyBy: JobSpec['keyBy'],
    time: JobSpec['time'],
    operator: Operator,
    lateTopic: string,
    stages: JobSpec['stages'],
    windowed: boolean,
  ) {
    this.#base = base;
    this.#keyBy = keyBy;
    this.#time = time;
    this.#operator = operator;
    this.#lateTopic = lateTopic;
    this.#stages = stages;
    this.#windowed = windowed;
  }

  #then<U>(stage: (value: unknown) => Iterable<unknown>): ResultStream<U> {
    return new ResultStream<U>(
      this.#base,
      this.#keyBy,
      this.#time,
      this.#operator,
      this.#lateTopic,
      [...this.#stages, stage],
      this.#windowed,
    );
  }

  filter(predicate: (value: O) => boolean): ResultStream<O> {
    return this.#then((v) => (predicate(v as O) ? [v] : []));
  }

  map<U>(fn: (value: O) => U): ResultStream<U> {
    return this.#then((v) => [fn(v as O)]);
  }

  flatMap<U>(fn: (value: O) => Iterable<U>): ResultStream<U> {
    return this.#then((v) => fn(v as O));
  }

  /**
   * Sends the results to a topic, keyed by the stream’s key unless `key` says otherwise, and
   * returns the job; `.toTable(table)` on it upserts them into a DynamoDB table as well.
   */
  to(topic: string, options: { key?: (value: O) => string } = {}): StreamJob<O> {
    if (typeof topic !== 'string' || topic.length === 0) throw new InvalidArgument('topic', 'to() needs a topic name');
    return new StreamJob<O>({
      ...this.#base,
      keyBy: this.#keyBy,
      time: this.#time,
      operator: this.#operator,
      lateTopic: this.#lateTopic,
      stages: this.#stages,
      sink: { topic, key: options.key },
      windowed: this.#windowed,
      tables: [],
    });
  }
}
