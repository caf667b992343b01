import { durationMs, type Duration } from './duration.ts';

/** A watermark strategy: how far behind the largest event time seen a partition’s watermark trails. */
export interface WatermarkStrategy {
  readonly kind: 'boundedOutOfOrderness';
  readonly boundMs: number;
}

/** How long a partition may go without events before it stops holding the job’s watermark back. */
export interface IdlenessPolicy {
  readonly idleAfterMs: number;
}

/**
 * Events may arrive up to `bound` later than the latest event time seen on their partition: the
 * partition’s watermark is `max event time − bound`, and a watermark `W` says that events with a
 * time before `W` are not expected any more (Flink’s `forBoundedOutOfOrderness`).
 */
export function boundedOutOfOrderness(bound: Duration): WatermarkStrategy {
  return { kind: 'boundedOutOfOrderness', boundMs: durationMs('watermark bound', bound, 0) };
}

/**
 * A partition that has received no events for longer than `timeout` (by the runner’s clock) no
 * longer holds the job’s watermark back (Flink’s `withIdleness`); it counts again with its next event.
 */
export function withIdleness(timeout: Duration): IdlenessPolicy {
  return { idleAfterMs: durationMs('idleness timeout', timeout) };
}

/** What the job remembers per input partition; plain JSON. */
export interface PartitionProgress {
  /** The next offset to process: records below it were processed already (a redelivery) and are skipped. */
  nextOffset: number | null;
  /** The largest event time seen on the partition, `null` before its first event. */
  maxTimestamp: number | null;
  /** The runner’s clock when the partition last delivered an event (or was first declared). */
  lastActiveAt: number | null;
}

/**
 * The job’s watermark from its partitions’ progress: the minimum over the partitions that are not
 * idle. When every partition is idle it is the maximum over them, as Flink’s StatusWatermarkValve
 * does, so that the last windows of a quiet job still fire. `null` means no watermark yet.
 */
export function combinedWatermark(
  partitions: Record<string, PartitionProgress>,
  boundMs: number,
  now: number,
  idleness: IdlenessPolicy | undefined,
): number | null {
  let activeMin: number | null | undefined;
  let idleMax: number | null = null;
  for (const p of Object.values(partitions)) {
    const wm = p.maxTimestamp === null ? null : p.maxTimestamp - boundMs;
    const idle = idleness !== undefined && p.lastActiveAt !== null && now - p.lastActiveAt > idleness.idleAfterMs;
    if (idle) {
      if (wm !== null && (idleMax === null || wm > idleMax)) idleMax = wm;
    } else if (activeMin === undefined) activeMin = wm;
    else if (activeMin !== null) activeMin = wm === null ? null : Math.min(activeMin, wm);
  }
  return activeMin === undefined ? idleMax : activeMin;
}

/** The larger of two watermarks, where `null` is the smallest: the job’s watermark never goes back. */
export function laterWatermark(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.max(a, b);
}
