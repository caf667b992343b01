/**
 * The log table's stream as a doorbell for functions besides the dispatcher's subscriptions (saga
 * triggers, stream jobs): the dispatcher, the stream's one consumer, invokes each of them
 * asynchronously when an append touched one of its topics. Each reads what is new itself, through
 * its consumer groups or its job state, so a lost or repeated ring loses or repeats nothing; each
 * also runs on a schedule as a backstop. Set by `SluiceStack.ringOnAppend`; no module state, so
 * the CDK app can import it.
 */
export const RING_ON_APPEND_ENV = 'SLUICE_RING_ON_APPEND';

/** One function to ring (the value of `RING_ON_APPEND_ENV` is a JSON array of them). */
export interface RungFunction {
  /** Name or ARN, as Lambda's Invoke takes it. */
  readonly function: string;
  readonly topics: readonly string[];
}

/** The functions in `RING_ON_APPEND_ENV`; malformed entries (or a malformed value) are left out. */
export function rungFunctions(value: string | undefined): RungFunction[] {
  try {
    const list: unknown = JSON.parse(value ?? '[]');
    if (!Array.isArray(list)) return [];
    return list.filter(
      (f): f is RungFunction =>
        typeof (f as RungFunction | null)?.function === 'string' &&
        Array.isArray((f as RungFunction).topics) &&
        (f as RungFunction).topics.every((t) => typeof t === 'string'),
    );
  } catch {
    return [];
  }
}
