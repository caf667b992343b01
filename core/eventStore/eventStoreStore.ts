import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { MemoryPart } from '../adapters/memory/memoryAtomic.ts';
import {
  MAX_ITEM_BYTES,
  consumed,
  jsonItemBytes,
  queryPage,
  readUnits,
  writeUnits,
} from '../adapters/memory/capacity.ts';
import type { AtomicPart } from '../ports.ts';
import { metadataKeys } from '../schema.ts';

/** The latest snapshot a reducer left on a stream. */
export interface SnapshotInfo {
  /** The version of the last event it folded in. */
  readonly version: number;
  /** The reducer's version when it was taken (a snapshot of another one is ignored). */
  readonly reducerVersion: number;
}

/** A stream's head: its version, what an append is conditional on. */
export interface StreamHead {
  /** Its last event's number (-1: none, never stored). */
  readonly version: number;
  /** Its last event's timestamp: later appends are timestamped at least this (so time order is version order). */
  readonly lastTimestamp: number;
  /** The partition of the event store's topic its events went to (the last append's). */
  readonly partition: number;
  /** Per reducer name, its latest snapshot. */
  readonly snapshots: Readonly<Record<string, SnapshotInfo>>;
}

/** Where one append's events are: one entry per append, keyed by its last version. */
export interface StreamEntry {
  readonly firstVersion: number;
  readonly lastVersion: number;
  readonly partition: number;
  /** The batches holding the events, in order: base offset and record count each (usually one). */
  readonly batches: readonly (readonly [baseOffset: number, count: number])[];
  /** The events' timestamp (one per append). */
  readonly timestamp: number;
}

export interface StoredSnapshot {
  readonly version: number;
  readonly reducerVersion: number;
  /** The reducer's state after `version`, as JSON text. */
  readonly state: string;
  readonly timestamp: number;
}

/**
 * Where the event store keeps streams' heads, index entries and snapshots, and projections their
 * checkpoints: the metadata table on DynamoDB (keys in core/schema.ts), maps in memory. Both
 * adapters pass test/contract/eventStoreContract.ts.
 */
export interface EventStoreStore {
  /** The stream's head (strongly consistent); undefined when it has no events. */
  head(streamId: string): Promise<StreamHead | undefined>;
  /**
   * An append's share of the atomic write: the head moves to `next` only if it is still at
   * `readVersion` (absent when -1), and the entry is put only if none has its key. Item 0 is the
   * head, item 1 the entry.
   */
  appendPart(
    streamId: string,
    readVersion: number,
    next: Omit<StreamHead, 'snapshots'>,
    entry: StreamEntry,
  ): AtomicPart;
  /**
   * Index entries from the one holding `fromVersion`, in version order, until one reaches
   * `toVersion` or `limit` were read: one Query (more only past 1 MB of entries).
   */
  entries(streamId: string, fromVersion: number, toVersion: number, limit: number): Promise<StreamEntry[]>;
  /** The latest snapshot of `reducer` at or before `version`: one Query with Limit 1. */
  snapshot(streamId: string, reducer: string, atOrBefore: number): Promise<StoredSnapshot | undefined>;
  /**
   * Stores a snapshot (replacing one of another reducer version at that version) and notes it in
   * the head when it is the latest. False when it would exceed DynamoDB's 400 KB item limit.
   */
  putSnapshot(streamId: string, reducer: string, snapshot: StoredSnapshot): Promise<boolean>;
  /** A projection's checkpoints: per partition, the next offset to apply. */
  checkpoints(projection: string): Promise<Map<number, Checkpoint>>;
  /**
   * A checkpoint move as part of an atomic write: only if the checkpoint is still `previous`
   * (absent when undefined), so two runners of one projection never both apply an event.
   */
  checkpointPart(projection: string, partition: number, previous: Checkpoint | undefined, next: Checkpoint): AtomicPart;
  /** Forgets a projection's checkpoints (to rebuild it from zero). */
  deleteCheckpoints(projection: string): Promise<void>;
}

/** How far a projection got on one partition: the next offset, in a topic incarnation. */
export interface Checkpoint {
  readonly topicId: string;
  readonly next: number;
}

type Capacity = (capacity: ConsumedCapacity[]) => void;

/**
 * `EventStoreStore` in memory, with DynamoDB's item limit and the capacity each request would
 * consume (see capacity.ts), so the same tests catch costs that grow with history.
 */
export class MemoryEventStoreStore implements EventStoreStore {
  private readonly heads = new Map<string, StreamHead>();
  /** Per stream, entries sorted by last version. */
  private readonly index = new Map<string, StreamEntry[]>();
  private readonly snapshots = new Map<string, Map<string, StoredSnapshot>>();
  private readonly projections = new Map<string, Map<number, Checkpoint>>();
  private readonly onCapacity: Capacity | undefined;

  constructor(options: { readonly onConsumedCapacity?: Capacity } = {}) {
    this.onCapacity = options.onConsumedCapacity;
  }

  private charge(units: { read?: number; write?: number }): void {
    this.onCapacity?.([consumed('metadata', units)]);
  }

  async head(streamId: string): Promise<StreamHead | undefined> {
    await tick();
    const head = this.heads.get(streamId);
    this.charge({ read: readUnits(head === undefined ? 0 : headBytes(streamId, head)) });
    return head === undefined ? undefined : structuredClone(head);
  }

  appendPart(
    streamId: string,
    readVersion: number,
    next: Omit<StreamHead, 'snapshots'>,
    entry: StreamEntry,
  ): AtomicPart {
    const entryKey = metadataKeys.eventStreamEntry(streamId, entry.lastVersion);
    const entryBytes = checkSize(jsonItemBytes(entryKey.pk, entryKey.sk, entry));
    const headSize = checkSize(headBytes(streamId, { ...next, snapshots: this.heads.get(streamId)?.snapshots ?? {} }));
    const copy = structuredClone(entry);
    return new MemoryPart(
      2,
      headSize + entryBytes,
      () => {
        if ((this.heads.get(streamId)?.version ?? -1) !== readVersion) return { item: 0 };
        if ((this.index.get(streamId) ?? []).some((e) => e.lastVersion === entry.lastVersion)) return { item: 1 };
        return undefined;
      },
      () => {
        this.heads.set(streamId, { ...next, snapshots: this.heads.get(streamId)?.snapshots ?? {} });
        const entries = this.index.get(streamId) ?? [];
        entries.push(copy);
        entries.sort((a, b) => a.lastVersion - b.lastVersion);
        this.index.set(streamId, entries);
      },
      () => this.charge({ write: 2 * (writeUnits(headSize) + writeUnits(entryBytes)) }),
    );
  }

  async entries(streamId: string, fromVersion: number, toVersion: number, limit: number): Promise<StreamEntry[]> {
    await tick();
    const all = (this.index.get(streamId) ?? []).filter((e) => e.lastVersion >= fromVersion);
    const out: StreamEntry[] = [];
    // As DynamoDB pages: Limit items or 1 MB, then another request while more are wanted.
    let at = 0;
    do {
      const sizes = all.slice(at).map((e) => entryBytes(streamId, e));
      const page = queryPage(sizes, limit - out.length);
      this.charge({ read: readUnits(page.bytes) });
      out.push(...all.slice(at, at + page.count).map((e) => structuredClone(e)));
      at += page.count;
      if (!page.cut || out.length >= limit || out.at(-1)!.lastVersion >= toVersion) break;
    } while (at < all.length);
    const end = out.findIndex((e) => e.lastVersion >= toVersion);
    return end < 0 ? out : out.slice(0, end + 1);
  }

  async snapshot(streamId: string, reducer: string, atOrBefore: number): Promise<StoredSnapshot | undefined> {
    await tick();
    let best: StoredSnapshot | undefined;
    for (const s of this.snapshots.get(snapshotKey(streamId, reducer))?.values() ?? [])
      if (s.version <= atOrBefore && (best === undefined || s.version > best.version)) best = s;
    const key = metadataKeys.eventStreamSnapshot(streamId, reducer, best?.version ?? 0);
    this.charge({ read: readUnits(best === undefined ? 0 : jsonItemBytes(key.pk, key.sk, best)) });
    return best === undefined ? undefined : { ...best };
  }

  async putSnapshot(streamId: string, reducer: string, snapshot: StoredSnapshot): Promise<boolean> {
    await tick();
    const key = metadataKeys.eventStreamSnapshot(streamId, reducer, snapshot.version);
    const bytes = jsonItemBytes(key.pk, key.sk, snapshot);
    if (bytes > MAX_ITEM_BYTES) return false;
    const all = this.snapshots.get(snapshotKey(streamId, reducer)) ?? new Map<string, StoredSnapshot>();
    all.set(key.sk, { ...snapshot });
    this.snapshots.set(snapshotKey(streamId, reducer), all);
    const head = this.heads.get(streamId);
    const latest = head?.snapshots[reducer];
    this.charge({ write: writeUnits(bytes) + 1 });
    if (head !== undefined && (latest === undefined || latest.version <= snapshot.version))
      this.heads.set(streamId, {
        ...head,
        snapshots: {
          ...head.snapshots,
          [reducer]: { version: snapshot.version, reducerVersion: snapshot.reducerVersion },
        },
      });
    return true;
  }

  async checkpoints(projection: string): Promise<Map<number, Checkpoint>> {
    await tick();
    const found = new Map(this.projections.get(projection) ?? []);
    this.charge({ read: readUnits(found.size * 64) });
    return found;
  }

  checkpointPart(
    projection: string,
    partition: number,
    previous: Checkpoint | undefined,
    next: Checkpoint,
  ): AtomicPart {
    return new MemoryPart(
      1,
      64,
      () => {
        const now = this.projections.get(projection)?.get(partition);
        return now?.topicId === previous?.topicId && now?.next === previous?.next ? undefined : { item: 0 };
      },
      () => {
        const all = this.projections.get(projection) ?? new Map<number, Checkpoint>();
        all.set(partition, { ...next });
        this.projections.set(projection, all);
      },
      () => this.charge({ write: 2 }),
    );
  }

  async deleteCheckpoints(projection: string): Promise<void> {
    await tick();
    this.charge({ write: this.projections.get(projection)?.size ?? 0 });
    this.projections.delete(projection);
  }
}

function snapshotKey(streamId: string, reducer: string): string {
  return `${streamId}\u0000${reducer}`;
}

function headBytes(streamId: string, head: StreamHead): number {
  const key = metadataKeys.eventStreamHead(streamId);
  return jsonItemBytes(key.pk, key.sk, head);
}

function entryBytes(streamId: string, entry: StreamEntry): number {
  const key = metadataKeys.eventStreamEntry(streamId, entry.lastVersion);
  return jsonItemBytes(key.pk, key.sk, entry);
}

function checkSize(bytes: number): number {
  if (bytes > MAX_ITEM_BYTES)
    throw new Error(`ValidationException: Item size ${bytes} has exceeded the maximum allowed size`);
  return bytes;
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
