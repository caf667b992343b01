import { mapWithLimit, range, sleep } from '../async.ts';
import { AppendContention, CorruptData, StreamNotFound, WrongExpectedVersion, isSluiceError } from '../errors.ts';
import { integerOption } from '../log/integerOption.ts';
import type { ConsumerRecord } from '../log/records.ts';
import type { Sluice } from '../log/sluice.ts';
import type { TopicRecord } from '../ports.ts';
import { loadAggregate, type LoadOptions, type LoadResult, type Reducer } from './aggregates.ts';
import {
  MAX_STREAM_READ,
  eventOf,
  onlyOptions,
  eventRecord,
  validateEvents,
  validateExpectedVersion,
  validateStreamId,
  type EventInput,
  type ExpectedVersion,
  type RecordedEvent,
} from './events.ts';
import type { EventStoreStore, SnapshotInfo, StreamEntry } from './eventStoreStore.ts';
import { Upcasters, type Upcaster } from './upcasters.ts';

export { MAX_STREAM_READ } from './events.ts';

export interface EventStoreOptions {
  readonly sluice: Sluice;
  readonly store: EventStoreStore;
  /** The topic holding every stream's events. @default DEFAULT_EVENT_STORE_TOPIC */
  readonly topic?: string;
  /**
   * Partitions of the topic when the first append creates it (a topic created beforehand keeps
   * its own). A stream lives in one partition (its id is the records' key). @default 8
   */
  readonly partitions?: number;
  /** A reducer's state is snapshotted every this many events (see `load`). @default 100 */
  readonly snapshotEvery?: number;
  /** Appends retried when another writer moved the stream's head in between. @default 20 */
  readonly maxAttempts?: number;
  /** Epoch-ms clock; tests pass a fake one. */
  readonly now?: () => number;
}

/** The default topic of the event store. */
export const DEFAULT_EVENT_STORE_TOPIC = 'sluice.events';
const DEFAULT_PARTITIONS = 8; // streams spread over 8 partitions; raise for more than ~8,000 write units/s
const DEFAULT_SNAPSHOT_EVERY = 100; // a load reads at most ~100 events past its snapshot
const DEFAULT_MAX_ATTEMPTS = 20; // concurrent `any` appends to one stream take turns
/** Largest `maxBytes` of one read (events as JSON): well inside Lambda's 6 MB response limit. */
export const MAX_STREAM_READ_BYTES = 4 * 1024 * 1024;

export interface AppendResult {
  readonly streamId: string;
  readonly firstVersion: number;
  /** The stream's version now (its last event's number). */
  readonly lastVersion: number;
  /** Where each event went in the event store's topic, in order. */
  readonly positions: { readonly partition: number; readonly offset: number }[];
}

export interface ReadStreamOptions {
  /** The first event's number. @default 0 */
  readonly fromVersion?: number;
  /** The last event's number (inclusive). @default no limit */
  readonly toVersion?: number;
  /** At most this many events. @default 500 */
  readonly maxCount?: number;
  /** At most this many bytes of events as JSON (the first event is returned whatever its size). @default 4 MiB */
  readonly maxBytes?: number;
}

export interface ReadStreamResult {
  readonly streamId: string;
  readonly events: RecordedEvent[];
  /** Where the next page starts, when this one was cut by `maxCount` or `maxBytes`. */
  readonly nextVersion?: number;
}

export interface ReadAllResult {
  /** Events in log order per partition, partition after partition. */
  readonly events: RecordedEvent[];
  /** Per partition, the next offset: pass as `from` to resume. */
  readonly positions: Record<number, number>;
  /** True when every partition was read to its end. */
  readonly caughtUp: boolean;
}

export interface StreamDescription {
  readonly streamId: string;
  /** Its last event's number. */
  readonly version: number;
  readonly partition: number;
  readonly lastTimestamp: number;
  /** Per reducer, its latest snapshot. */
  readonly snapshots: Readonly<Record<string, SnapshotInfo>>;
}

/**
 * Event streams on a Sluice topic (core/eventStore): EventStoreDB's appends with expected
 * versions, stream reads whose cost follows the stream (not its partition), replay of everything,
 * aggregates with snapshots and temporal queries, and upcasters.
 *
 * An append is ONE atomic write (`Sluice.appendAtomically`): the events' record batch, the
 * stream's head (its version, conditional on the version read) and an index entry pointing at the
 * batch. A wrong expectation writes nothing; two writers of one stream never both win.
 *
 * @example
 * const es = new EventStore({ sluice, store });
 * await es.appendToStream('account-1', [{ type: 'Opened', data: { owner: 'ada' } }], { expectedVersion: 'noStream' });
 * const { events } = await es.readStream('account-1');
 */
export class EventStore {
  readonly sluice: Sluice;
  readonly store: EventStoreStore;
  readonly topicName: string;
  readonly upcasters = new Upcasters();
  private readonly partitions: number;
  private readonly snapshotEvery: number;
  private readonly maxAttempts: number;
  private readonly now: () => number;
  private topicChecked = false;

  constructor(options: EventStoreOptions) {
    onlyOptions('EventStore', options, [
      'sluice',
      'store',
      'topic',
      'partitions',
      'snapshotEvery',
      'maxAttempts',
      'now',
    ]);
    this.sluice = options.sluice;
    this.store = options.store;
    this.topicName = options.topic ?? DEFAULT_EVENT_STORE_TOPIC;
    this.partitions = integerOption('partitions', options.partitions, DEFAULT_PARTITIONS, 1, 1024);
    this.snapshotEvery = integerOption('snapshotEvery', options.snapshotEvery, DEFAULT_SNAPSHOT_EVERY, 1, 1_000_000);
    this.maxAttempts = integerOption('maxAttempts', options.maxAttempts, DEFAULT_MAX_ATTEMPTS, 1, 1000);
    this.now = options.now ?? Date.now;
  }

  /** Registers an upcaster of `type` from schema version `fromVersion` to the next (see `Upcasters`). */
  registerUpcaster(type: string, fromVersion: number, upcaster: Upcaster): void {
    this.upcasters.register(type, fromVersion, upcaster);
  }

  /**
   * @debt No event ids: an append whose outcome stayed unknown (it threw after the atomic writer's
   * retries) may have landed, and retrying it with the same exact version is then refused;
   * EventStoreDB makes such a retry idempotent by event id.
   *
   * Appends events to a stream if it is as `expectedVersion` says (default `any`), else throws
   * `WrongExpectedVersion` with the stream's actual version and writes nothing. The events get
   * the versions after the stream's last one, and one timestamp: now, or the stream's last
   * timestamp if the clock is behind it (so time order is version order within a stream).
   */
  async appendToStream(
    streamId: string,
    events: readonly EventInput[],
    options: { readonly expectedVersion?: ExpectedVersion } = {},
  ): Promise<AppendResult> {
    validateStreamId(streamId);
    const expected = options.expectedVersion ?? 'any';
    validateExpectedVersion(expected);
    const valid = validateEvents(events);
    const topic = await this.topic();
    for (let attempt = 1; ; attempt++) {
      const head = await this.store.head(streamId);
      const actual = head?.version ?? -1;
      if (!satisfies(expected, actual)) throw new WrongExpectedVersion(streamId, expected, actual);
      const timestamp = Math.max(this.now(), head?.lastTimestamp ?? 0);
      const records = valid.map((e, i) => eventRecord(streamId, e, actual + 1 + i, timestamp));
      let partition = -1;
      const result = await this.sluice.appendAtomically([{ topic: topic.name, records }], (batches) => {
        partition = batches[0]!.partition;
        const entry: StreamEntry = {
          firstVersion: actual + 1,
          lastVersion: actual + valid.length,
          partition,
          batches: batches.map((b) => [b.baseOffset, b.recordCount] as const),
          timestamp,
        };
        return [
          this.store.appendPart(
            streamId,
            actual,
            { version: entry.lastVersion, lastTimestamp: timestamp, partition },
            entry,
          ),
        ];
      });
      if (result.outcome === 'written') {
        return {
          streamId,
          firstVersion: actual + 1,
          lastVersion: actual + valid.length,
          positions: result.records[0]!.map((r) => ({ partition: r.partition, offset: r.offset })),
        };
      }
      // Another writer moved the head since we read it (nothing of ours was written): read it
      // again, and let the expectation decide.
      if (attempt >= this.maxAttempts) throw new AppendContention(topic.name, partition, attempt);
      await sleep(Math.random() * Math.min(50, 2 ** attempt));
    }
  }

  /**
   * Events of one stream from `fromVersion`: one Query of the stream's index entries, then one
   * read of each append's batch by its offset. What it costs follows the events read, never the
   * other streams sharing the partition.
   */
  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    validateStreamId(streamId);
    const from = integerOption('fromVersion', options.fromVersion, 0, 0, Number.MAX_SAFE_INTEGER);
    const to = integerOption('toVersion', options.toVersion, Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER);
    const maxCount = integerOption('maxCount', options.maxCount, 500, 1, MAX_STREAM_READ);
    const maxBytes = integerOption('maxBytes', options.maxBytes, MAX_STREAM_READ_BYTES, 1, MAX_STREAM_READ_BYTES);
    if (to < from) return { streamId, events: [] };
    const limit = Math.min(maxCount, to - from + 1);
    const entries = await this.store.entries(streamId, from, to, limit);
    const batches = await mapWithLimit(entries, 8, (e) => this.entryEvents(streamId, e));
    const events: RecordedEvent[] = [];
    let bytes = 0;
    for (const event of batches.flat()) {
      if (event.version < from || event.version > to) continue;
      const upcast = this.upcasters.apply(event);
      const size = Buffer.byteLength(JSON.stringify(upcast));
      if (events.length >= maxCount || (events.length > 0 && bytes + size > maxBytes))
        return { streamId, events, nextVersion: event.version };
      events.push(upcast);
      bytes += size;
    }
    const last = entries.at(-1);
    // Entries stopped at the limit before `to`: more may follow.
    if (entries.length === limit && last !== undefined && last.lastVersion < to)
      return { streamId, events, nextVersion: last.lastVersion + 1 };
    return { streamId, events };
  }

  /** The events of one append, checked against its entry. */
  private async entryEvents(streamId: string, entry: StreamEntry): Promise<RecordedEvent[]> {
    const records: ConsumerRecord[] = [];
    for (const [base, count] of entry.batches) {
      const whole = await this.sluice.readBatch(this.topicName, entry.partition, base);
      if (whole !== undefined) {
        records.push(...whole);
        continue;
      }
      // Rolled to S3 (the hot copy expired): read it from its segment.
      let offset = base;
      while (offset < base + count) {
        const page = await this.sluice.read(this.topicName, entry.partition, offset, {
          maxRecords: base + count - offset,
        });
        if (page.records.length === 0)
          throw new CorruptData(
            `${this.topicName}[${entry.partition}] offset ${offset}`,
            `an event of ${streamId} is missing`,
          );
        records.push(...page.records.filter((r) => r.offset < base + count));
        offset = page.nextOffset;
      }
    }
    return records.map((r, i) => {
      const event = eventOf(r, entry.partition);
      if (event?.streamId !== streamId || event.version !== entry.firstVersion + i)
        throw new CorruptData(
          `${this.topicName}[${entry.partition}] offset ${r.offset}`,
          `expected event ${entry.firstVersion + i} of ${streamId}`,
        );
      return event;
    });
  }

  /**
   * Every event of every stream, in log order per partition (partition after partition), from
   * `from` (per partition, the next offset; default the start), at most `maxCount`.
   */
  async readAll(
    options: { readonly from?: Readonly<Record<number, number>>; readonly maxCount?: number } = {},
  ): Promise<ReadAllResult> {
    const maxCount = integerOption('maxCount', options.maxCount, 500, 1, MAX_STREAM_READ);
    const topic = await this.topic();
    const positions: Record<number, number> = {};
    const events: RecordedEvent[] = [];
    let caughtUp = true;
    for (const p of range(topic.config.partitions)) {
      let offset = options.from?.[p] ?? 0;
      for (;;) {
        const wanted = maxCount - events.length;
        if (wanted === 0) {
          caughtUp = false;
          break;
        }
        const page = await this.sluice.read(topic.name, p, offset, { maxRecords: Math.min(wanted, 1000) });
        for (const r of page.records) {
          const event = eventOf(r, p);
          if (event !== undefined) events.push(this.upcasters.apply(event));
        }
        offset = page.nextOffset;
        if (page.records.length === 0 || offset >= page.highWatermark) break;
      }
      positions[p] = offset;
    }
    return { events, positions, caughtUp };
  }

  /** A stream's version, partition, last timestamp and latest snapshots; `StreamNotFound` when it has no events. */
  async describeStream(streamId: string): Promise<StreamDescription> {
    validateStreamId(streamId);
    const head = await this.store.head(streamId);
    if (head === undefined) throw new StreamNotFound(streamId);
    return { streamId, ...head };
  }

  /**
   * An aggregate's state: the reducer folded over the stream's events, now or `at` a version or a
   * time (the events timestamped at or before it). Snapshots every `snapshotEvery` events (by
   * reducer name and version) make it read only the events since the last one. See aggregates.ts.
   */
  load<S>(streamId: string, reducer: Reducer<S>, options: LoadOptions = {}): Promise<LoadResult<S>> {
    validateStreamId(streamId);
    return loadAggregate(this, streamId, reducer, options, { snapshotEvery: this.snapshotEvery, now: this.now });
  }

  /** The event store's topic, created on first use (events kept forever). */
  async topic(): Promise<TopicRecord> {
    if (this.topicChecked) return this.sluice.topic(this.topicName);
    try {
      const topic = await this.sluice.topic(this.topicName, { fresh: true });
      this.topicChecked = true;
      return topic;
    } catch (e) {
      if (!isSluiceError(e, 'TopicNotFound')) throw e;
    }
    try {
      await this.sluice.createTopic(this.topicName, { partitions: this.partitions, config: { retentionMs: -1 } });
    } catch (e) {
      if (!isSluiceError(e, 'TopicAlreadyExists')) throw e; // created by another writer meanwhile
    }
    this.topicChecked = true;
    return this.sluice.topic(this.topicName, { fresh: true });
  }
}

function satisfies(expected: ExpectedVersion, actual: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'noStream') return actual === -1;
  if (expected === 'streamExists') return actual >= 0;
  return expected === actual;
}
