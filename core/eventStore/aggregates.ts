import { InvalidArgument } from '../errors.ts';
import type { EventStoreStore } from './eventStoreStore.ts';
import { MAX_STREAM_READ, type RecordedEvent } from './events.ts';

/**
 * How an aggregate's state follows from its events. The state must survive JSON (snapshots store
 * it as JSON text), and `apply` must be deterministic: then a snapshot never changes a result.
 *
 * @example
 * const account: Reducer<{ balance: number }> = {
 *   name: 'account', version: 1, initial: () => ({ balance: 0 }),
 *   apply: (s, e) => (e.type === 'Deposited' ? { balance: s.balance + (e.data as { amount: number }).amount } : s),
 * };
 */
export interface Reducer<S> {
  /** Names its snapshots: 1 to 64 characters from A-Z, a-z, 0-9, `.`, `_` and `-`. */
  readonly name: string;
  /** Raise it when `apply` or the state's shape changes: older snapshots are then ignored and rebuilt. */
  readonly version: number;
  readonly initial: () => S;
  readonly apply: (state: S, event: RecordedEvent) => S;
}

export interface LoadOptions {
  /** The state after this version, or after the events timestamped at or before `timestamp`. @default now */
  readonly at?: number | { readonly timestamp: number };
  /** Whether to read and write snapshots (a brute-force replay without them). @default true */
  readonly snapshots?: boolean;
}

export interface LoadResult<S> {
  readonly state: S;
  /** The last event folded in (-1: none). */
  readonly version: number;
  /** The snapshot it started from, if any. */
  readonly fromSnapshot?: number;
  /** How many events it read. */
  readonly eventsRead: number;
}

/** What a load reads through (the `EventStore`): its store, and stream reads with upcasting. */
export interface StreamSource {
  readonly store: EventStoreStore;
  readStream(
    streamId: string,
    options: { fromVersion: number; toVersion: number; maxCount: number },
  ): Promise<{ readonly events: RecordedEvent[]; readonly nextVersion?: number }>;
}

const REDUCER_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Folds a stream's events into a state. From the latest snapshot of this reducer (name and
 * version) at or before the target, it reads only the events after it; while folding, the state
 * after every `snapshotEvery`-th event is kept and the last such one is stored (so later loads,
 * at any version past it, start there). A snapshot of another reducer version is ignored and
 * replaced. A snapshot too large for one item (400 KB) is skipped: loads then replay.
 */
export async function loadAggregate<S>(
  store: StreamSource,
  streamId: string,
  reducer: Reducer<S>,
  options: LoadOptions,
  settings: { readonly snapshotEvery: number; readonly now: () => number },
): Promise<LoadResult<S>> {
  if (typeof reducer?.name !== 'string' || !REDUCER_NAME.test(reducer.name))
    throw new InvalidArgument('reducer.name', 'a reducer name is 1 to 64 characters from A-Z, a-z, 0-9, . _ -');
  if (
    !Number.isSafeInteger(reducer.version) ||
    typeof reducer.apply !== 'function' ||
    typeof reducer.initial !== 'function'
  )
    throw new InvalidArgument('reducer', 'a reducer has a name, an integer version, initial() and apply(state, event)');
  const target = await targetVersion(store, streamId, options.at);
  const useSnapshots = options.snapshots !== false;
  let state = reducer.initial();
  let version = -1;
  let fromSnapshot: number | undefined;
  if (target < 0) return { state, version, eventsRead: 0 };
  if (useSnapshots) {
    const snapshot = await store.store.snapshot(streamId, reducer.name, target);
    if (snapshot !== undefined && snapshot.reducerVersion === reducer.version) {
      state = JSON.parse(snapshot.state) as S;
      version = snapshot.version;
      fromSnapshot = snapshot.version;
    }
  }
  let eventsRead = 0;
  let keep: { version: number; state: string; timestamp: number } | undefined;
  for (let from = version + 1; from <= target;) {
    const page = await store.readStream(streamId, { fromVersion: from, toVersion: target, maxCount: MAX_STREAM_READ });
    for (const event of page.events) {
      state = reducer.apply(state, event);
      version = event.version;
      eventsRead++;
      if (useSnapshots && (version + 1) % settings.snapshotEvery === 0)
        keep = { version, state: JSON.stringify(state), timestamp: event.timestamp };
    }
    if (page.nextVersion === undefined || page.events.length === 0) break;
    from = page.nextVersion;
  }
  if (keep !== undefined) {
    // Best effort: a snapshot that cannot be stored only makes the next load read more.
    await store.store
      .putSnapshot(streamId, reducer.name, { ...keep, reducerVersion: reducer.version })
      .catch(() => false);
  }
  return { state, version, eventsRead, ...(fromSnapshot === undefined ? {} : { fromSnapshot }) };
}

/** The version a load folds up to: the stream's, a given one (at most the stream's), or the last at or before a time. */
async function targetVersion(store: StreamSource, streamId: string, at: LoadOptions['at']): Promise<number> {
  const head = await store.store.head(streamId);
  const current = head?.version ?? -1;
  if (at === undefined) return current;
  if (typeof at === 'number') {
    if (!Number.isSafeInteger(at) || at < -1)
      throw new InvalidArgument('at', 'at is a version (-1 or more) or { timestamp }');
    return Math.min(at, current);
  }
  if (typeof at !== 'object' || at === null || !Number.isSafeInteger(at.timestamp))
    throw new InvalidArgument('at', 'at is a version (-1 or more) or { timestamp }');
  if (head === undefined || head.lastTimestamp <= at.timestamp) return current;
  // Timestamps never decrease within a stream, so the index is in time order too: page through
  // it (about 10,000 appends per request) until an append is later than the time.
  let found = -1;
  for (let from = 0; from <= current;) {
    const entries = await store.store.entries(streamId, from, current, 1000);
    for (const e of entries) {
      if (e.timestamp > at.timestamp) return found;
      found = e.lastVersion;
    }
    if (entries.length === 0) break;
    from = entries.at(-1)!.lastVersion + 1;
  }
  return found;
}
