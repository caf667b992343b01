import { mapWithLimit, range } from '../async.ts';
import { InvalidArgument, JobNotFound, isSluiceError } from '../errors.ts';
import { integerOption } from '../log/integerOption.ts';
import type { Sluice } from '../log/sluice.ts';
import type { JobSpec, JobState } from './job.ts';
import {
  DEFAULT_JOB_PAGE,
  MAX_JOB_PAGE,
  type JobPage,
  type JobStateStore,
  type ListJobsOptions,
} from './stateStore.ts';

/** Where one input partition of a stream job stands. */
export interface JobPartitionView {
  readonly partition: number;
  /**
   * The job's position: the next offset it processes here. `null` before it processed a record of
   * the partition (it then starts at the log start).
   */
  readonly nextOffset: number | null;
  /** The source partition's high watermark; `null` when the source topic (or the partition) no longer exists. */
  readonly highWatermark: number | null;
  /**
   * Records appended but not processed yet: `highWatermark − nextOffset` (from the log start when
   * `nextOffset` is null), never below 0; `null` with `highWatermark`.
   */
  readonly lag: number | null;
  /** The largest event time the job has seen here; `null` before the first event. */
  readonly maxEventTime: number | null;
  /**
   * The partition's own watermark, `maxEventTime − bound`, from the settings the job's runner
   * saved with its state (or the definition the caller gives); `null` for processing time.
   */
  readonly watermark: number | null;
  /**
   * Whether the partition no longer holds the job's watermark back (no event for longer than the
   * job's idleness timeout): `false` for a job without one; `null` for a state saved before its
   * runner recorded its settings, when no definition is given.
   */
  readonly idle: boolean | null;
  /** The runner's clock when the partition last delivered an event (or was first declared). */
  readonly lastActiveAt: number | null;
}

/** How much window state a job holds: what its next firings will emit, and what its state item carries. */
export interface OpenWindows {
  /** Keys with state. */
  readonly keys: number;
  /** Tumbling and sliding windows: panes (each a slice of time holding one accumulator) across keys. */
  readonly panes: number;
  /** Session windows: live sessions across keys. */
  readonly sessions: number;
  /** Process functions: pending event-time timers across keys. */
  readonly timers: number;
}

export interface JobDescription {
  readonly name: string;
  /** The topic the job reads. */
  readonly source: string;
  /** The state's version: how many steps the job has committed. */
  readonly version: number;
  /** The job's event-time watermark; `null` before it has one. */
  readonly watermark: number | null;
  /** Every partition of the source topic, and any the state still names, ascending. */
  readonly partitions: JobPartitionView[];
  readonly openWindows: OpenWindows;
  /** The state's size as JSON (the stored item holds at most `MAX_JOB_STATE_BYTES`). */
  readonly stateBytes: number;
}

export interface DescribeJobOptions {
  /**
   * The job's definition (`job.spec`) when the caller has it, over the settings its runner saved:
   * its watermark bound and idleness timeout give each partition's watermark and idleness.
   */
  readonly spec?: Pick<JobSpec, 'watermark' | 'idleness' | 'time'>;
  /** The clock idleness is judged at (epoch ms). @default Date.now() */
  readonly now?: number;
}

const MAX_JOB_NAME_CHARS = 200; // as JobRunner: the key of the job's state
const OFFSET_LOOKUPS_IN_FLIGHT = 16; // a job on a topic of hundreds of partitions must not flood the table

/**
 * A stream job as `sluice jobs describe` shows it: per input partition its position, the source's
 * high watermark, the lag between them, event-time progress and idleness; the job's watermark;
 * and the open windows its state holds.
 *
 * Its cost does not grow with the job's history: one strongly consistent read of the state (one
 * item, at most `MAX_JOB_STATE_BYTES`), the topic record, and per partition the engine's
 * high-watermark look-up (the last batch's key and the partition state), plus the log start for a
 * partition the job has not read yet. Nothing is scanned.
 *
 * @debt Lag counts offsets, and a transactional source's commit and abort markers take offsets a
 * `read_committed` job never processes: a job caught up behind a marker shows a lag of 1 (Kafka's
 * consumer lag has the same quirk). The stored state does not record the watermark bound nor the
 * idleness timeout, so over HTTP (which has no job definitions) per-partition watermarks and
 * idleness are `null`.
 *
 * @example
 * const d = await describeJob(sluice, new DynamoJobStateStore({ client, table }), 'fraud', { spec: job.spec });
 * for (const p of d.partitions) console.log(p.partition, p.nextOffset, p.highWatermark, p.lag);
 */
export async function describeJob(
  sluice: Sluice,
  store: JobStateStore,
  name: string,
  options: DescribeJobOptions = {},
): Promise<JobDescription> {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_JOB_NAME_CHARS)
    throw new InvalidArgument('job', `a job name is a string of 1 to ${MAX_JOB_NAME_CHARS} characters`);
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgument('options', 'options must be an object');
  const now = options.now ?? Date.now();
  if (!Number.isFinite(now)) throw new InvalidArgument('now', 'now must be a finite number of epoch milliseconds');

  const stored = await store.load(name);
  if (stored === undefined) throw new JobNotFound(name);
  const { state, version, source } = stored;
  // The definition the caller has, else the settings the job’s runner saved with its state.
  const settings = options.spec ?? stored.layout.head.settings;
  const topicPartitions = await partitionCount(sluice, source);
  const numbers = new Set([...range(topicPartitions ?? 0), ...Object.keys(state.partitions).map(Number)]);
  const partitions = await mapWithLimit(
    [...numbers].sort((a, b) => a - b),
    OFFSET_LOOKUPS_IN_FLIGHT,
    async (partition): Promise<JobPartitionView> => {
      const progress = state.partitions[String(partition)];
      const nextOffset = progress?.nextOffset ?? null;
      const maxEventTime = progress?.maxTimestamp ?? null;
      const lastActiveAt = progress?.lastActiveAt ?? null;
      const offsets =
        topicPartitions !== undefined && partition < topicPartitions
          ? await lagOf(sluice, source, partition, nextOffset)
          : { highWatermark: null, lag: null };
      return {
        partition,
        nextOffset,
        ...offsets,
        maxEventTime,
        watermark: partitionWatermark(settings, maxEventTime),
        idle: idleness(settings, lastActiveAt, now),
        lastActiveAt,
      };
    },
  );
  return {
    name,
    source,
    version,
    watermark: state.watermark,
    partitions,
    openWindows: openWindowsOf(state),
    stateBytes: Buffer.byteLength(JSON.stringify(state)),
  };
}

/**
 * A page of stream jobs by name (those that have committed a step), ascending: `next` is where
 * the following page starts. One Query of the job registry per page, whatever the number of jobs.
 */
export async function listJobs(store: JobStateStore, options: ListJobsOptions = {}): Promise<JobPage> {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgument('options', 'options must be an object');
  const limit = integerOption('limit', options.limit, DEFAULT_JOB_PAGE, 1, MAX_JOB_PAGE);
  const after = options.after;
  if (after !== undefined && (typeof after !== 'string' || after.length === 0 || after.length > MAX_JOB_NAME_CHARS))
    throw new InvalidArgument('after', `after is a job name (1 to ${MAX_JOB_NAME_CHARS} characters), as a page's next`);
  return store.list({ limit, ...(after === undefined ? {} : { after }) });
}

/** The source topic's partition count, or undefined when the topic no longer exists. */
async function partitionCount(sluice: Sluice, source: string): Promise<number | undefined> {
  try {
    return (await sluice.topic(source, { fresh: true })).config.partitions;
  } catch (e) {
    if (isSluiceError(e, 'TopicNotFound') || isSluiceError(e, 'InvalidTopicName')) return undefined;
    throw e;
  }
}

async function lagOf(
  sluice: Sluice,
  source: string,
  partition: number,
  nextOffset: number | null,
): Promise<{ highWatermark: number | null; lag: number | null }> {
  try {
    const [highWatermark, from] = await Promise.all([
      sluice.offsetFor(source, partition, 'latest'),
      nextOffset ?? sluice.offsetFor(source, partition, 'earliest'),
    ]);
    return { highWatermark, lag: Math.max(0, highWatermark - from) };
  } catch (e) {
    // The topic was deleted (or shrank under a new incarnation) since its record was read.
    if (isSluiceError(e, 'TopicNotFound') || isSluiceError(e, 'PartitionNotFound'))
      return { highWatermark: null, lag: null };
    throw e;
  }
}

function partitionWatermark(spec: DescribeJobOptions['spec'], maxEventTime: number | null): number | null {
  if (spec === undefined || spec.time === 'processing' || maxEventTime === null) return null;
  return maxEventTime - spec.watermark.boundMs;
}

/** As the job judges idleness (watermarks.ts `combinedWatermark`). */
function idleness(spec: DescribeJobOptions['spec'], lastActiveAt: number | null, now: number): boolean | null {
  if (spec === undefined) return null;
  if (spec.idleness === undefined || lastActiveAt === null) return false;
  return now - lastActiveAt > spec.idleness.idleAfterMs;
}

/**
 * Counts the operator state per key by its shape (windowOperator.ts, processOperator.ts): panes
 * `{panes: {start: acc}}`, sessions `{sessions: [...]}`, or a process function's `{value?, timers}`.
 */
export function openWindowsOf(state: JobState): OpenWindows {
  let keys = 0;
  let panes = 0;
  let sessions = 0;
  let timers = 0;
  for (const raw of Object.values(state.keys)) {
    keys++;
    if (typeof raw !== 'object' || raw === null) continue;
    const s = raw as { panes?: unknown; sessions?: unknown; timers?: unknown };
    if (typeof s.panes === 'object' && s.panes !== null) panes += Object.keys(s.panes).length;
    if (Array.isArray(s.sessions)) sessions += s.sessions.length;
    if (Array.isArray(s.timers)) timers += s.timers.length;
  }
  return { keys, panes, sessions, timers };
}
