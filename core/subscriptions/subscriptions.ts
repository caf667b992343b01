import { InvalidArgument, SluiceError, TopicNotFound, isSluiceError } from '../errors.ts';
import type { ConsumerGroups } from '../groups/consumerGroups.ts';
import type { Sluice } from '../log/sluice.ts';
import { deadLetter, groupOf, type SubscriptionRecord } from './delivery.ts';
import {
  MUTABLE_KEYS,
  applyChanges,
  parseChanges,
  parseSubscription,
  validateSubscriptionName,
  type Subscription,
} from './subscription.ts';
import type { QuarantinedKey, RetryState, SubscriptionStore } from './subscriptionStore.ts';

export class SubscriptionNotFound extends SluiceError {
  readonly subscription: string;
  constructor(name: string) {
    super(`Subscription ${name} does not exist`);
    this.subscription = name;
  }
}

export class SubscriptionAlreadyExists extends SluiceError {
  readonly subscription: string;
  constructor(name: string) {
    super(`Subscription ${name} already exists; change it with PATCH`);
    this.subscription = name;
  }
}

/** No quarantined key of the subscription has this key (as text). */
export class KeyNotQuarantined extends SluiceError {
  readonly subscription: string;
  readonly key: string;
  constructor(name: string, key: string) {
    super(`Subscription ${name} has no quarantined key ${JSON.stringify(key.slice(0, 200))}`);
    this.subscription = name;
    this.key = key.slice(0, 200);
  }
}

export interface SubscriptionPartitionView {
  readonly partition: number;
  /** The next offset to deliver (the group's committed offset), `null` before the first delivery. */
  readonly position: number | null;
  readonly highWatermark: number;
  readonly lag: number;
  /** A batch being retried: its records left, the attempt and when the next one is due. */
  readonly retry: RetryState | null;
  readonly delivered: number;
  readonly deadLettered: number;
}

export interface SubscriptionDescription extends Subscription {
  readonly partitions: SubscriptionPartitionView[];
  readonly quarantined: (Omit<QuarantinedKey, 'offsets' | 'version'> & { records: number; firstOffset: number })[];
  readonly group: string;
}

const MAX_CONFLICTS = 20;

/** Subscriptions' administration: create, list, describe, change, delete; quarantined keys released or skipped. */
export class Subscriptions {
  private readonly store: SubscriptionStore;
  private readonly sluice: Sluice;
  private readonly groups: ConsumerGroups;
  private readonly now: () => number;

  constructor(options: { store: SubscriptionStore; sluice: Sluice; groups: ConsumerGroups; now?: () => number }) {
    this.store = options.store;
    this.sluice = options.sluice;
    this.groups = options.groups;
    this.now = options.now ?? Date.now;
  }

  /** Creates a subscription; its topic and `onFailure` topic must exist. */
  async create(input: unknown): Promise<Subscription> {
    const parsed = parseSubscription(input, this.now());
    await this.topicsExist(parsed);
    // "latest" is the end when the subscription is created, not when the dispatcher first runs
    // (which an append's own ring may cause: that record would be missed).
    let sub = parsed;
    if (parsed.startingPosition === 'latest') {
      const count = (await this.sluice.partitionCounts([parsed.topic]))[parsed.topic]!;
      const ends: number[] = [];
      for (let p = 0; p < count; p++) ends.push(await this.sluice.offsetFor(parsed.topic, p, 'latest'));
      sub = { ...parsed, startOffsets: ends };
    }
    if (!(await this.store.create(sub))) throw new SubscriptionAlreadyExists(sub.name);
    return sub;
  }

  /**
   * Brings subscriptions declared with the stack into the store: each is created when missing
   * (one whose topic does not exist yet is left for a later call: the answer is false), and the
   * settings it declares are applied when they differ (only those it names: a `paused` set over
   * the API stays unless the declaration names `paused`). True when all are in place.
   */
  async ensure(declared: readonly unknown[]): Promise<boolean> {
    let complete = true;
    for (const d of declared) {
      const wanted = parseSubscription(d, this.now());
      const existing = await this.store.get(wanted.name);
      if (existing === undefined) {
        try {
          await this.create(d);
        } catch (e) {
          if (isSluiceError(e, 'TopicNotFound')) complete = false;
          else if (!isSluiceError(e, 'SubscriptionAlreadyExists')) throw e;
        }
        continue;
      }
      const named = Object.keys(d as object);
      const changes: Record<string, unknown> = {};
      for (const k of MUTABLE_KEYS)
        if (named.includes(k) && JSON.stringify(existing[k]) !== JSON.stringify(wanted[k]))
          changes[k] = wanted[k] ?? null;
      if (Object.keys(changes).length > 0) await this.update(wanted.name, changes);
    }
    return complete;
  }

  async list(): Promise<Subscription[]> {
    return this.store.list();
  }

  async get(name: string): Promise<Subscription> {
    validateSubscriptionName(name);
    const sub = await this.store.get(name);
    if (sub === undefined) throw new SubscriptionNotFound(name);
    return sub;
  }

  /** The settings, and per partition the position, lag, retry in flight and counts; quarantined keys. */
  async describe(name: string): Promise<SubscriptionDescription> {
    const sub = await this.get(name);
    const state = await this.store.readState(name);
    const committed = await this.committed(sub);
    const count = (await this.sluice.partitionCounts([sub.topic]))[sub.topic] ?? 0;
    const partitions: SubscriptionPartitionView[] = [];
    for (let p = 0; p < count; p++) {
      const highWatermark = await this.sluice.offsetFor(sub.topic, p, 'latest');
      const position = committed.get(p) ?? null;
      // Before its first commit, a partition starts where the subscription was created (latest) or at its start.
      const start = sub.startOffsets?.[p] ?? (await this.sluice.offsetFor(sub.topic, p, 'earliest'));
      const s = state.partitions.find((x) => x.partition === p);
      partitions.push({
        partition: p,
        position,
        highWatermark,
        lag: highWatermark - (position ?? start),
        retry: s?.retry ?? null,
        delivered: s?.delivered ?? 0,
        deadLettered: s?.deadLettered ?? 0,
      });
    }
    const quarantined = state.quarantined.map(({ offsets, version: _v, ...q }) => ({
      ...q,
      records: offsets.length,
      firstOffset: offsets[0] ?? -1,
    }));
    return { ...sub, partitions, quarantined, group: groupOf(name) };
  }

  /** Changes settings (pause, resume, target, retries, …); the name, topic and start stay. */
  async update(name: string, input: unknown): Promise<Subscription> {
    const changes = parseChanges(input);
    // Quarantines exist only in key order: leaving it would let a parked key's later records through.
    if (changes.ordering === 'partition' && (await this.store.readState(name)).quarantined.length > 0)
      throw new InvalidArgument(
        'ordering',
        'the subscription has quarantined keys: release or skip them before changing ordering to partition',
      );
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const next = applyChanges(await this.get(name), changes);
      await this.topicsExist(next);
      if (await this.store.update(next)) return next;
    }
    throw new SubscriptionConflict(name);
  }

  /** Deletes the subscription, its delivery state, and its consumer group's offsets when it has no members. */
  async delete(name: string): Promise<void> {
    validateSubscriptionName(name);
    if (!(await this.store.delete(name))) throw new SubscriptionNotFound(name);
    await this.groups.deleteGroup(groupOf(name)).catch((e: unknown) => {
      // A dispatcher still a member (its session lasts minutes): the group's offsets stay until it expires.
      if (!isSluiceError(e, 'GroupNotFound') && !isSluiceError(e, 'GroupNotEmpty')) throw e;
    });
  }

  /**
   * Releases a quarantined key (named by its text, or by the `keyId` describe shows: records
   * without a key, or whose key is not text): its parked records are delivered again, in order,
   * then the key flows.
   */
  async release(name: string, key: string): Promise<{ partitions: number[]; records: number }> {
    return this.changeQuarantine(name, key, async (q) => {
      const next = { ...q, releasing: true, attempts: 0, version: q.version + 1 };
      return (await this.store.putQuarantine(name, next, q.version)) ? q.offsets.length : undefined;
    });
  }

  /** Skips a quarantined key: its parked records are dead-lettered, and the key flows again. */
  async skip(name: string, key: string): Promise<{ partitions: number[]; records: number }> {
    const sub = await this.get(name);
    return this.changeQuarantine(name, key, async (q) => {
      const records = await this.recordsAt(sub, q.partition, q.offsets);
      await deadLetter(this.sluice, sub, records, `skipped: ${q.lastError}`.slice(0, 1_000), q.attempts, this.now());
      return (await this.store.deleteQuarantine(name, q.partition, q.keyId, q.version)) ? q.offsets.length : undefined;
    });
  }

  private async changeQuarantine(
    name: string,
    key: string,
    change: (q: QuarantinedKey) => Promise<number | undefined>,
  ): Promise<{ partitions: number[]; records: number }> {
    await this.get(name);
    const partitions: number[] = [];
    let records = 0;
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const mine = (await this.store.readState(name)).quarantined.filter(
        (q) => (q.key === key || q.keyId === key) && !partitions.includes(q.partition),
      );
      if (mine.length === 0) break;
      for (const q of mine) {
        const n = await change(q);
        if (n === undefined) continue; // the dispatcher changed it meanwhile: read it again
        partitions.push(q.partition);
        records += n;
      }
    }
    if (partitions.length === 0) throw new KeyNotQuarantined(name, key);
    return { partitions: partitions.sort((a, b) => a - b), records };
  }

  private async committed(sub: Subscription): Promise<Map<number, number>> {
    try {
      const d = await this.groups.describe(groupOf(sub.name));
      return new Map(
        d.offsets.filter((o) => o.topic === sub.topic && o.committed !== null).map((o) => [o.partition, o.committed!]),
      );
    } catch (e) {
      if (isSluiceError(e, 'GroupNotFound')) return new Map();
      throw e;
    }
  }

  private async topicsExist(sub: Subscription): Promise<void> {
    const wanted = [sub.topic, ...(sub.onFailure === undefined ? [] : [sub.onFailure.topic])];
    const counts = await this.sluice.partitionCounts(wanted);
    for (const t of wanted) if (counts[t] === undefined) throw new TopicNotFound(t);
  }

  private async recordsAt(
    sub: Subscription,
    partition: number,
    offsets: readonly number[],
  ): Promise<SubscriptionRecord[]> {
    const wanted = new Set(offsets);
    const out: SubscriptionRecord[] = [];
    if (offsets.length === 0) return out;
    const last = Math.max(...offsets);
    for (let at = Math.min(...offsets); at <= last;) {
      let got;
      try {
        got = await this.sluice.read(sub.topic, partition, at, { maxRecords: Math.min(1_000, last - at + 1) });
      } catch (e) {
        if (!isSluiceError(e, 'OffsetOutOfRange')) throw e;
        // Retention removed the oldest: the rest are read from the log start on.
        const start = await this.sluice.offsetFor(sub.topic, partition, 'earliest');
        if (start <= at) throw e;
        at = start;
        continue;
      }
      if (got.nextOffset <= at) break;
      for (const r of got.records) if (wanted.has(r.offset)) out.push({ ...r, topic: sub.topic, partition });
      at = got.nextOffset;
    }
    return out;
  }
}

export class SubscriptionConflict extends SluiceError {
  readonly subscription: string;
  constructor(name: string) {
    super(`Subscription ${name} kept changing; try again`, { retriable: true });
    this.subscription = name;
  }
}
