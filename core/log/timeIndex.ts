import type { Reservation, ReservationTime } from '../ports.ts';

/**
 * The time index: how `offsetFor({ timestamp: T })` finds the earliest offset whose record is
 * timestamped at or after T with a fixed number of requests, whatever the partition's history.
 *
 * Timestamps are producers' create times. They need not grow with offsets, and a topic bounds them
 * only relative to append time (`timestampAfterMaxMs`, and `timestampBeforeMaxMs`, which allows
 * any past by default), so neither a batch's timestamps nor its `appendedAt` order the log by
 * time: append time narrows a look-up to the batches appended in a window, whose number grows
 * with throughput (and without a `timestampBeforeMaxMs`, to the whole log). What does grow with
 * offsets is the running maximum, the largest timestamp of all records up to an offset: the
 * answer lies in the first batch whose running maximum reaches T, so a keyed query on the running
 * maximum tells where to start reading.
 *
 * - Segments: each segment record carries the running maximum at its end (`runningMaxTimestamp`),
 *   which the roller continues from the partition state's `tieredMaxTimestamp`; the metadata
 *   table's `time` index (sparse: only segments have its sort key) orders them by it.
 * - Hot batches: the partition's sequencer, which every append updates atomically anyway, keeps
 *   the running maximum of the batches reserved since its chain started, and their bytes. An
 *   update cannot take a maximum, so a writer says whether its batch raises it, and the sequencer
 *   refuses a wrong guess (one more request); the maximum is kept in steps of ten seconds,
 *   rounded up, so it rises at most once in ten seconds and writers seldom guess wrong. Once per `MARK_BYTES`
 *   reserved (at most `MARK_BATCHES` batches) a batch is a mark: it carries the running maximum
 *   its reservation left, which puts it in the log table's `time` index. Marks cost one small
 *   index entry each, other batches nothing.
 *
 * A look-up asks each index for the last entry whose running maximum is below T: every record
 * before it is older than T. Reading on from there finds the answer in the next segment (one
 * keyed query for it, its cached index, one batch) or within one run of batches between two marks
 * (one query page), plus, as the hot maximum is kept in steps of ten seconds, the batches
 * timestamped in the same step as T (at most ten seconds of a partition's traffic): about ten
 * requests in all, on a partition of any size.
 *
 * The running maximum counts every record written, also those since removed by retention,
 * delete-records or compaction, so it is an upper bound of what is left, and answers never depend
 * on it being tight: the index only lets a look-up skip what is provably older than T, and the
 * answer is read from the records. When a removed record held the running maximum (T at most a
 * removed timestamp, and every kept record between the skipped part and the answer older than T:
 * compacted topics, or producers writing ever older timestamps), the index cannot skip past it;
 * the look-up reads on, segments by their own maximum (which compaction keeps up to date; about
 * 2,500 segment records per request) and hot batches page by page. Batches written before the
 * chain started (by an older version, or past a sequencer that fell behind and was moved up) are
 * read the same way, until the roller moves them to segments, and indexes those.
 */

/** Bytes reserved between two marks: a run of batches between them fits one 1 MB query page. */
export const MARK_BYTES = 256 * 1024;
/** What a batch weighs towards `MARK_BYTES` at least (its other attributes, and small batches). */
const MIN_BATCH_BYTES = 4096;
/** The most batches between two marks, marks included. */
export const MARK_BATCHES = MARK_BYTES / MIN_BATCH_BYTES;
/**
 * The sequencer keeps the running maximum in steps this long, rounded up: coarser steps mean fewer
 * raises and so fewer wrong guesses among writers, finer ones fewer batches a look-up reads past.
 */
export const MAXIMUM_STEP_MS = 10_000;

/**
 * What this writer knows of a partition's time chain, to guess whether its next batch raises the
 * maximum: what its last reservation left, and which way its last wrong guess went. A writer that
 * knows nothing guesses that the maximum is high enough already (on a partition written in the
 * last step, it is); under contention another writer is usually first to raise it into a new
 * step, so a writer whose raise was refused guesses so again until a keep is refused. A wrong
 * guess costs one more request; this keeps them to a few per step and partition, and a single
 * writer, the only one raising, guesses wrong at most once.
 */
export interface ChainKnowledge {
  readonly maxTimestamp: number;
  readonly othersRaise: boolean;
}

/**
 * What a reservation tells the sequencer about a batch: its largest timestamp (rounded up to
 * a step) and its weight, and whether it raises the running maximum, as far as the writer
 * knows (a batch below what the chain had already does not).
 */
export function reservationTime(
  maxTimestamp: number,
  payloadBytes: number,
  known: ChainKnowledge | undefined,
): ReservationTime {
  const rounded = Math.ceil(maxTimestamp / MAXIMUM_STEP_MS) * MAXIMUM_STEP_MS;
  return {
    maxTimestamp: rounded,
    bytes: Math.max(MIN_BATCH_BYTES, payloadBytes + 1024),
    raise: known !== undefined && rounded > known.maxTimestamp && !known.othersRaise,
  };
}

/**
 * The time index entry of a batch whose reservation crossed a multiple of `MARK_BYTES`, else
 * undefined: the batch is then a mark.
 */
export function timeMarkOf(reservation: Reservation, time: ReservationTime): StoredTimeMark | undefined {
  const { bytes, chainStart, maxTimestamp } = reservation.time;
  return Math.floor(bytes / MARK_BYTES) > Math.floor((bytes - time.bytes) / MARK_BYTES)
    ? { chainStart, maxTimestamp }
    : undefined;
}

type StoredTimeMark = { readonly chainStart: number; readonly maxTimestamp: number };
