import type { Subscription } from './subscription.ts';

/** A batch being retried: what is left of it, and when to try again. */
export interface RetryState {
  /** Offsets still to deliver, in order (what the target failed, and what follows it). */
  readonly offsets: readonly number[];
  /** The offset after the batch: the position once it is resolved. */
  readonly end: number;
  /** Failed attempts so far (a bisection is not one, as in Lambda). */
  readonly attempt: number;
  /** Bisected: the next attempt delivers only this many of `offsets`. */
  readonly limit?: number;
  readonly retryAt: number;
  readonly lastError: string;
}

/** One partition's delivery state (its position is the subscription group's committed offset). */
export interface PartitionState {
  readonly partition: number;
  readonly version: number;
  readonly retry?: RetryState;
  readonly delivered: number;
  readonly deadLettered: number;
}

/** A key whose record exhausted its retries: it and the key's later records wait, in order. */
export interface QuarantinedKey {
  readonly partition: number;
  /** A digest of the key's bytes (keys may be long or binary). */
  readonly keyId: string;
  /** The key as text (UTF-8), or base64 when it is not text; `null` for records without a key. */
  readonly key: string | null;
  readonly offsets: readonly number[];
  readonly since: number;
  readonly lastError: string;
  /** Released: its records are being delivered again, in order, before the key flows again. */
  readonly releasing: boolean;
  readonly attempts: number;
  readonly version: number;
}

export interface SubscriptionState {
  readonly partitions: readonly PartitionState[];
  readonly quarantined: readonly QuarantinedKey[];
}

/** Where subscriptions and their delivery state live: the metadata table, or memory. */
export interface SubscriptionStore {
  /** False when one of that name exists. */
  create(sub: Subscription): Promise<boolean>;
  get(name: string): Promise<Subscription | undefined>;
  list(): Promise<Subscription[]>;
  /** False, changing nothing, when the stored version is not `sub.version - 1`. */
  update(sub: Subscription): Promise<boolean>;
  /** Removes the subscription and its state; false when there was none. */
  delete(name: string): Promise<boolean>;
  /** Every partition state and quarantined key of the subscription, in one read. */
  readState(name: string): Promise<SubscriptionState>;
  /** False when the item is no longer at `expectedVersion` (`undefined`: must not exist). */
  putPartition(name: string, state: PartitionState, expectedVersion: number | undefined): Promise<boolean>;
  putQuarantine(name: string, q: QuarantinedKey, expectedVersion: number | undefined): Promise<boolean>;
  deleteQuarantine(name: string, partition: number, keyId: string, expectedVersion: number): Promise<boolean>;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

export class MemorySubscriptionStore implements SubscriptionStore {
  private readonly subs = new Map<string, Subscription>();
  private readonly partitions = new Map<string, Map<number, PartitionState>>();
  private readonly quarantine = new Map<string, Map<string, QuarantinedKey>>();

  async create(sub: Subscription): Promise<boolean> {
    await tick();
    if (this.subs.has(sub.name)) return false;
    this.subs.set(sub.name, structuredClone(sub));
    return true;
  }

  async get(name: string): Promise<Subscription | undefined> {
    await tick();
    const s = this.subs.get(name);
    return s === undefined ? undefined : structuredClone(s);
  }

  async list(): Promise<Subscription[]> {
    await tick();
    return [...this.subs.values()].sort((a, b) => a.name.localeCompare(b.name)).map((s) => structuredClone(s));
  }

  async update(sub: Subscription): Promise<boolean> {
    await tick();
    if (this.subs.get(sub.name)?.version !== sub.version - 1) return false;
    this.subs.set(sub.name, structuredClone(sub));
    return true;
  }

  async delete(name: string): Promise<boolean> {
    await tick();
    this.partitions.delete(name);
    this.quarantine.delete(name);
    return this.subs.delete(name);
  }

  async readState(name: string): Promise<SubscriptionState> {
    await tick();
    return structuredClone({
      partitions: [...(this.partitions.get(name)?.values() ?? [])].sort((a, b) => a.partition - b.partition),
      quarantined: [...(this.quarantine.get(name)?.values() ?? [])].sort(
        (a, b) => a.partition - b.partition || a.since - b.since,
      ),
    });
  }

  async putPartition(name: string, state: PartitionState, expectedVersion: number | undefined): Promise<boolean> {
    await tick();
    const map = this.partitions.get(name) ?? new Map<number, PartitionState>();
    if (map.get(state.partition)?.version !== expectedVersion) return false;
    map.set(state.partition, structuredClone(state));
    this.partitions.set(name, map);
    return true;
  }

  async putQuarantine(name: string, q: QuarantinedKey, expectedVersion: number | undefined): Promise<boolean> {
    await tick();
    const map = this.quarantine.get(name) ?? new Map<string, QuarantinedKey>();
    const id = `${q.partition}#${q.keyId}`;
    if (map.get(id)?.version !== expectedVersion) return false;
    map.set(id, structuredClone(q));
    this.quarantine.set(name, map);
    return true;
  }

  async deleteQuarantine(name: string, partition: number, keyId: string, expectedVersion: number): Promise<boolean> {
    await tick();
    const map = this.quarantine.get(name);
    const id = `${partition}#${keyId}`;
    if (map?.get(id)?.version !== expectedVersion) return false;
    map.delete(id);
    return true;
  }
}
