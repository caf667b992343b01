/**
 * What the job runner (`job.ts`) asks of an operator. The runner owns offsets, event time and the
 * watermark; an operator owns its per-key state, a plain JSON object keyed by the record key.
 */
export interface Operator {
  /**
   * Handles one event at the current watermark. Returns false when the event is too late for any
   * state it could change (it then goes to the late side output, and nowhere else).
   */
  onEvent(
    keys: Record<string, unknown>,
    key: string,
    timestamp: number,
    value: unknown,
    watermark: number | null,
    emit: Emit,
  ): boolean;
  /** The watermark moved from `from` (exclusive) to `to` (inclusive): fire what is due, drop what is expired. */
  onWatermark(keys: Record<string, unknown>, from: number | null, to: number, emit: Emit): void;
}

/** Passes one operator result, for `key`, down the rest of the pipeline. */
export type Emit = (key: string, value: unknown) => void;
