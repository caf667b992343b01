import { createHash, randomUUID } from 'node:crypto';
import { mapWithLimit, range } from '../async.ts';
import { isSluiceError } from '../errors.ts';
import type { ConsumerGroups } from '../groups/consumerGroups.ts';
import type { Leases } from '../leases.ts';
import type { ConsumerRecord } from '../log/records.ts';
import type { Sluice } from '../log/sluice.ts';
import { matches, type Subscription } from './subscription.ts';
import type { PartitionState, QuarantinedKey, RetryState, SubscriptionStore } from './subscriptionStore.ts';

/** A record as a target gets it: with its topic and partition. */
export interface SubscriptionRecord extends ConsumerRecord {
  readonly topic: string;
  readonly partition: number;
}

/**
 * Delivers a batch. Resolves with the offsets the target reported failed (`batchItemFailures`;
 * none: the whole batch is done); throws when the whole batch failed (the function raised, the
 * endpoint answered an error, the call timed out).
 */
export interface DeliveryTarget {
  deliver(sub: Subscription, records: readonly SubscriptionRecord[]): Promise<{ readonly failed: readonly number[] }>;
}

export interface DeliveryRun {
  readonly subscription: string;
  readonly delivered: number;
  readonly failedAttempts: number;
  readonly deadLettered: number;
  readonly quarantined: number;
}

/** Records of one subscription's delivery in flight at once, across partitions. */
const PARTITION_CONCURRENCY = 8;
/** A backoff this short is waited for in the run; a longer one is left to a later run. */
const INLINE_WAIT_MS = 2_000;
const SESSION_TIMEOUT_MS = 300_000;
const INSTANCE_ID = 'dispatcher';
/** Longer than a dispatcher runs (its function's timeout), so a crashed holder frees it soon after. */
const LEASE_MS = 180_000;
/** Most records parked under one key; past it the partition waits (the key's quarantine is full). */
export const MAX_QUARANTINED_PER_KEY = 10_000;
const MAX_ERROR_CHARS = 1_000;

/** The consumer group whose committed offsets are a subscription's positions. */
export function groupOf(subscription: string): string {
  return `subscriptions.${subscription}`;
}

/** The digest that names a key in the quarantine (keys may be long or binary). */
export function keyIdOf(key: ConsumerRecord['key']): string {
  const bytes = key === null ? new Uint8Array() : typeof key === 'string' ? new TextEncoder().encode(key) : key;
  return createHash('sha256')
    .update(key === null ? 'null' : 'key:')
    .update(bytes)
    .digest('hex')
    .slice(0, 32);
}

function keyText(key: ConsumerRecord['key']): string | null {
  if (key === null || typeof key === 'string') return key;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(key);
  return text.includes('\uFFFD') ? Buffer.from(key).toString('base64') : text;
}

function message(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.slice(0, MAX_ERROR_CHARS);
}

/**
 * The dispatcher: runs a subscription's delivery for a while (a Lambda invocation rung by the log
 * table's stream or the schedule), one run per subscription at a time (a lease), each partition in
 * order. Positions are the committed offsets of the subscription's consumer group, committed after
 * each batch is resolved (delivered, dead-lettered or quarantined): a crash re-delivers only the
 * batch in flight (at least once). Retries, bisection and quarantined keys are kept per partition
 * in the subscription store, changed by conditional writes.
 */
export class Dispatcher {
  private readonly sluice: Sluice;
  private readonly groups: ConsumerGroups;
  private readonly store: SubscriptionStore;
  private readonly target: DeliveryTarget;
  private readonly leases: Leases;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly members = new Map<string, { memberId: string; generation: number }>();

  constructor(options: {
    sluice: Sluice;
    groups: ConsumerGroups;
    store: SubscriptionStore;
    target: DeliveryTarget;
    leases: Leases;
    now?: () => number;
    sleep?: (ms: number) => Promise<void>;
    random?: () => number;
  }) {
    this.sluice = options.sluice;
    this.groups = options.groups;
    this.store = options.store;
    this.target = options.target;
    this.leases = options.leases;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = options.random ?? Math.random;
  }

  /**
   * Delivers what the subscription has waiting, until caught up, waiting on a backoff, or
   * `deadline` (epoch ms). Nothing when it is paused, its topic does not exist, or another run
   * holds it.
   */
  async run(name: string, options: { deadline?: number } = {}): Promise<DeliveryRun | undefined> {
    const sub = await this.store.get(name);
    if (sub === undefined) return undefined;
    const report = { subscription: name, delivered: 0, failedAttempts: 0, deadLettered: 0, quarantined: 0 };
    const holder = randomUUID();
    if (!(await this.leases.acquire(`subscription#${name}`, holder, this.now(), LEASE_MS))) return report;
    try {
      if (sub.paused) {
        await this.leave(sub); // a paused subscription's group is empty: its offsets can be reset
        return report;
      }
      const member = await this.member(sub);
      if (member === undefined) return report; // the topic does not exist (yet)
      const described = await this.groups.describe(groupOf(name));
      const state = await this.store.readState(name);
      const partitions = range((await this.sluice.partitionCounts([sub.topic]))[sub.topic] ?? 0);
      // Every partition runs to its end even when another fails, so nothing of this run outlives its lease.
      const failures: unknown[] = [];
      await mapWithLimit(partitions, PARTITION_CONCURRENCY, async (p) => {
        const committed = described.offsets.find((o) => o.topic === sub.topic && o.partition === p)?.committed;
        const position = committed ?? sub.startOffsets?.[p] ?? (await this.sluice.offsetFor(sub.topic, p, 'earliest'));
        const lane = new PartitionRun(this, sub, p, position, report, {
          state: state.partitions.find((s) => s.partition === p),
          quarantined: state.quarantined.filter((q) => q.partition === p),
          deadline: options.deadline ?? Infinity,
          ...member,
        });
        await lane.drain().catch((e: unknown) => void failures.push(e));
      });
      if (failures.length > 0) throw failures[0];
      return report;
    } catch (e) {
      // Join again next time: a fenced or expired membership resumes from the committed offsets.
      if (isSluiceError(e, 'UnknownMember') || isSluiceError(e, 'FencedMember') || isSluiceError(e, 'NotAssigned'))
        this.members.delete(name);
      throw e;
    } finally {
      await this.leases.release(`subscription#${name}`, holder);
    }
  }

  /**
   * The run's membership of the subscription's group: the one this container holds, kept alive by
   * a heartbeat (so a subscription idle for longer than a session does not find it ended after
   * delivering, and deliver that batch again), else a new one (static: it takes over the last).
   */
  private async member(sub: Subscription): Promise<{ memberId: string; generation: number } | undefined> {
    const known = this.members.get(sub.name);
    if (known !== undefined) {
      try {
        const view = await this.groups.heartbeat(groupOf(sub.name), known.memberId);
        const member = { memberId: view.memberId, generation: view.generation };
        this.members.set(sub.name, member);
        return member;
      } catch (e) {
        if (!isSluiceError(e, 'UnknownMember') && !isSluiceError(e, 'FencedMember')) throw e;
        this.members.delete(sub.name); // ended: join again
      }
    }
    try {
      const view = await this.groups.join(groupOf(sub.name), {
        topics: [sub.topic],
        instanceId: INSTANCE_ID,
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        autoOffsetReset: sub.startingPosition,
      });
      const member = { memberId: view.memberId, generation: view.generation };
      this.members.set(sub.name, member);
      return member;
    } catch (e) {
      if (isSluiceError(e, 'TopicNotFound')) return undefined;
      throw e;
    }
  }

  private async leave(sub: Subscription): Promise<void> {
    const known = this.members.get(sub.name);
    if (known === undefined) return;
    this.members.delete(sub.name);
    await this.groups.leave(groupOf(sub.name), known.memberId).catch((e: unknown) => {
      if (!isSluiceError(e, 'UnknownMember')) throw e;
    });
  }

  // Parts a partition run uses.
  /** @internal */ readonly parts = {
    sluice: () => this.sluice,
    groups: () => this.groups,
    store: () => this.store,
    target: () => this.target,
    now: () => this.now(),
    sleep: (ms: number) => this.sleep(ms),
    random: () => this.random(),
  };
}

/** One partition's delivery within a run. */
class PartitionRun {
  private readonly d: Dispatcher['parts'];
  private readonly sub: Subscription;
  private readonly p: number;
  private position: number;
  private readonly report: { delivered: number; failedAttempts: number; deadLettered: number; quarantined: number };
  private state: PartitionState | undefined;
  private readonly quarantined: Map<string, QuarantinedKey>;
  /** Released keys whose delivery failed in this run (tried again by a later one). */
  private readonly failedReleases = new Set<string>();
  private readonly deadline: number;
  private readonly memberId: string;
  private readonly generation: number;

  constructor(
    dispatcher: Dispatcher,
    sub: Subscription,
    partition: number,
    position: number,
    report: PartitionRun['report'],
    options: {
      state: PartitionState | undefined;
      quarantined: readonly QuarantinedKey[];
      deadline: number;
      memberId: string;
      generation: number;
    },
  ) {
    this.d = dispatcher.parts;
    this.sub = sub;
    this.p = partition;
    this.position = position;
    this.report = report;
    this.state = options.state;
    this.quarantined = new Map(options.quarantined.map((q) => [q.keyId, q]));
    this.deadline = options.deadline;
    this.memberId = options.memberId;
    this.generation = options.generation;
  }

  async drain(): Promise<void> {
    while (this.d.now() < this.deadline) {
      const retry = this.state?.retry;
      if (retry !== undefined) {
        const wait = retry.retryAt - this.d.now();
        if (wait > 0) {
          if (wait > INLINE_WAIT_MS || this.d.now() + wait >= this.deadline) return; // a later run retries
          await this.d.sleep(wait);
        }
        const offsets = retry.offsets.slice(0, retry.limit ?? retry.offsets.length);
        // Records of a key parked meanwhile wait in its quarantine, not in the retry.
        const records = (await this.readAt(offsets)).filter(
          (r) => this.sub.ordering !== 'key' || !this.quarantined.has(keyIdOf(r.key)),
        );
        await this.attempt(records, retry.end, retry, offsets.length);
        continue;
      }
      if (this.sub.ordering === 'key' && (await this.releaseOne())) continue;
      if (!(await this.next())) return;
    }
  }

  /** Reads and delivers the next batch from the position; false when there is nothing to do now. */
  private async next(): Promise<boolean> {
    const { topic } = this.sub;
    let got;
    try {
      got = await this.d.sluice().read(topic, this.p, this.position, {
        maxRecords: this.sub.batchSize,
        ...(this.sub.isolation === undefined ? {} : { isolation: this.sub.isolation }),
      });
    } catch (e) {
      if (!isSluiceError(e, 'OffsetOutOfRange')) throw e;
      // Retention removed records below the position: go on from the log start (an offset past
      // the end is not that: it is thrown, and the partition waits for the next run).
      const start = await this.d.sluice().offsetFor(topic, this.p, 'earliest');
      if (start <= this.position) throw e;
      this.position = start;
      return true;
    }
    if (got.records.length === 0) {
      if (got.nextOffset > this.position) await this.commit(got.nextOffset); // gaps, compacted records
      return got.nextOffset > this.position;
    }
    const first = got.records[0]!;
    if (
      got.records.length < this.sub.batchSize &&
      this.d.now() - first.timestamp < this.sub.maxBatchingWindowMs &&
      this.d.now() + this.sub.maxBatchingWindowMs < this.deadline
    )
      return false; // the batching window is still open: a later ring delivers it
    const end = got.nextOffset;
    const records = got.records
      .filter((r) => matches(this.sub.filter, r))
      .map((r) => ({ ...r, topic, partition: this.p }));
    const deliverable: SubscriptionRecord[] = [];
    for (const r of records) {
      const parked = this.sub.ordering === 'key' ? this.quarantined.get(keyIdOf(r.key)) : undefined;
      if (parked === undefined) deliverable.push(r);
      else if (!(await this.park(parked, [r.offset], parked.lastError))) return false; // full: wait
    }
    await this.attempt(deliverable, end, undefined);
    return true;
  }

  /**
   * Delivers `records` (the batch, or what is left of it to retry), then records the outcome:
   * done (commit), retry later (with backoff, or bisected at once), or given up (dead letter, or
   * the key quarantined).
   */
  private async attempt(
    records: readonly SubscriptionRecord[],
    end: number,
    previous: RetryState | undefined,
    /** How many of the retry's offsets were asked for (records no longer in the log are not read). */
    requested = records.length,
  ) {
    const remaining = previous === undefined ? [] : previous.offsets.slice(requested);
    if (records.length === 0) return this.resolved(end, remaining, previous, 0);
    const { failed, error, whole } = await this.deliver(records);
    if (failed.size === 0) return this.resolved(end, remaining, previous, records.length);
    this.report.failedAttempts++;
    const byOffset = new Map(records.map((r) => [r.offset, r]));
    // What to try again: in partition order, everything from the first failure; in key order,
    // the failed records and the later ones of their keys (other keys are done).
    let retrying: SubscriptionRecord[];
    if (this.sub.ordering === 'partition') {
      const lowest = Math.min(...failed);
      retrying = records.filter((r) => r.offset >= lowest);
    } else {
      const keys = new Set([...failed].map((o) => keyIdOf(byOffset.get(o)!.key)));
      const firstOf = new Map<string, number>();
      for (const o of [...failed].sort((a, b) => a - b)) {
        const k = keyIdOf(byOffset.get(o)!.key);
        if (!firstOf.has(k)) firstOf.set(k, o);
      }
      retrying = records.filter((r) => keys.has(keyIdOf(r.key)) && r.offset >= firstOf.get(keyIdOf(r.key))!);
    }
    const done = records.length - retrying.length;
    this.report.delivered += done;
    const rest = [...retrying.map((r) => r.offset), ...remaining];
    const lastError = message(error ?? 'the target reported the record failed');
    // Bisect a whole batch that failed with an error, as Lambda does; halving is not a retry.
    if (whole && this.sub.ordering === 'partition' && retrying.length > 1)
      return this.saveRetry(
        {
          offsets: rest,
          end,
          attempt: previous !== undefined && retrying[0]!.offset === previous.offsets[0] ? previous.attempt : 0,
          limit: Math.ceil(retrying.length / 2),
          retryAt: this.d.now(),
          lastError,
        },
        done,
      );
    // Each record gets its retries: when the failure moved past the batch's earlier first record
    // (that one was delivered), the count starts again.
    const progressed = previous !== undefined && retrying[0]!.offset !== previous.offsets[0];
    const attempt = (progressed ? 0 : (previous?.attempt ?? 0)) + 1;
    const oldest = Math.min(...retrying.map((r) => r.timestamp));
    const tooOld = this.sub.maxRecordAgeMs >= 0 && this.d.now() - oldest > this.sub.maxRecordAgeMs;
    // The next attempt sends what failed (not what the retry set holds after it).
    if (attempt <= this.sub.maxRetries && !tooOld)
      return this.saveRetry(
        {
          offsets: rest,
          end,
          attempt,
          ...(rest.length > retrying.length ? { limit: retrying.length } : {}),
          retryAt: this.d.now() + this.backoff(attempt),
          lastError,
        },
        done,
      );
    // Given up.
    if (this.sub.ordering === 'partition') {
      const first = retrying[0]!;
      await this.deadLetter([first], lastError, attempt);
      const after = rest.slice(1);
      if (after.length === 0) return this.resolved(end, [], undefined, 0, done);
      return this.saveRetry({ offsets: after, end, attempt: 0, retryAt: this.d.now(), lastError }, done);
    }
    // Per key: park each failing key with its records; the other keys were delivered.
    const byKey = new Map<string, number[]>();
    for (const r of retrying) byKey.set(keyIdOf(r.key), [...(byKey.get(keyIdOf(r.key)) ?? []), r.offset]);
    for (const [keyId, offsets] of byKey) {
      const key = retrying.find((r) => keyIdOf(r.key) === keyId)!.key;
      const existing = this.quarantined.get(keyId);
      const parked: QuarantinedKey = existing ?? {
        partition: this.p,
        keyId,
        key: keyText(key),
        offsets: [],
        since: this.d.now(),
        lastError,
        releasing: false,
        attempts: attempt,
        version: -1,
      };
      if (!(await this.park({ ...parked, releasing: false, attempts: attempt }, offsets, lastError)))
        throw new Error(`the quarantine of a key in ${this.sub.name}[${this.p}] is full`);
      this.report.quarantined += offsets.length;
    }
    const left = remaining;
    if (left.length === 0) return this.resolved(end, [], undefined, 0, done);
    return this.saveRetry({ offsets: left, end, attempt: 0, retryAt: this.d.now(), lastError }, done);
  }

  /** The records delivered, any left of a retried batch go next, else the position moves to `end`. */
  private async resolved(
    end: number,
    remaining: readonly number[],
    previous: RetryState | undefined,
    delivered: number,
    /** Delivered records the report already counts (the state's counter takes them here). */
    counted = 0,
  ) {
    this.report.delivered += delivered;
    if (remaining.length > 0 && previous !== undefined) {
      // What is left starts its own count once the first record got through.
      const attempt = remaining[0] === previous.offsets[0] ? previous.attempt : 0;
      const { limit: _limit, ...rest } = previous;
      return this.saveRetry({ ...rest, offsets: remaining, attempt, retryAt: this.d.now() }, delivered + counted);
    }
    await this.commit(end);
    await this.saveState({ retry: undefined }, delivered + counted);
  }

  private async saveRetry(retry: RetryState, delivered: number): Promise<void> {
    const clean = Object.fromEntries(Object.entries(retry).filter(([, v]) => v !== undefined)) as unknown as RetryState;
    await this.saveState({ retry: clean }, delivered);
  }

  private async saveState(change: { retry: RetryState | undefined }, delivered: number, deadLettered = 0) {
    const before = this.state;
    if (before === undefined && change.retry === undefined && delivered === 0 && deadLettered === 0) return;
    const next: PartitionState = {
      partition: this.p,
      version: (before?.version ?? -1) + 1,
      delivered: (before?.delivered ?? 0) + delivered,
      deadLettered: (before?.deadLettered ?? 0) + deadLettered,
      ...(change.retry === undefined ? {} : { retry: change.retry }),
    };
    if (!(await this.d.store().putPartition(this.sub.name, next, before?.version)))
      throw new Error(`the delivery state of ${this.sub.name}[${this.p}] changed under this run`);
    this.state = next;
  }

  private async commit(offset: number): Promise<void> {
    if (offset === this.position) return;
    await this.d.groups().commit(groupOf(this.sub.name), {
      memberId: this.memberId,
      generation: this.generation,
      offsets: [{ topic: this.sub.topic, partition: this.p, offset }],
    });
    this.position = offset;
  }

  /**
   * Calls the target: one call, or (per key, with parallelism) one per lane of keys, in flight
   * together. `whole`: the one call failed with an error, every record with it.
   */
  private async deliver(
    records: readonly SubscriptionRecord[],
  ): Promise<{ failed: Set<number>; error?: unknown; whole: boolean }> {
    const lanes =
      this.sub.ordering === 'key' && this.sub.parallelismPerPartition > 1
        ? laneOf(records, this.sub.parallelismPerPartition)
        : [records];
    const failed = new Set<number>();
    let error: unknown;
    let erred = 0;
    await Promise.all(
      lanes.map(async (lane) => {
        try {
          const result = await this.d.target().deliver(this.sub, lane);
          const offsets = new Set(lane.map((r) => r.offset));
          for (const o of result.failed) if (offsets.has(o)) failed.add(o);
          // An identifier that is not one of the batch's offsets fails the whole batch, as in Lambda.
          if (result.failed.some((o) => !offsets.has(o))) for (const r of lane) failed.add(r.offset);
        } catch (e) {
          error ??= e;
          erred++;
          for (const r of lane) failed.add(r.offset);
        }
      }),
    );
    return { failed, ...(error === undefined ? {} : { error }), whole: erred > 0 && lanes.length === 1 };
  }

  /**
   * Delivers the oldest records of one released key (each key once per run after a failure);
   * true when it delivered some. A key that fails more than `maxRetries` times is parked again.
   */
  private async releaseOne(): Promise<boolean> {
    const q = [...this.quarantined.values()].find((x) => x.releasing && !this.failedReleases.has(x.keyId));
    if (q === undefined) return false;
    const offsets = q.offsets.slice(0, this.sub.batchSize);
    const records = await this.readAt(offsets);
    const { failed, error } = records.length === 0 ? { failed: new Set<number>() } : await this.deliver(records);
    const firstFailed = records.findIndex((r) => failed.has(r.offset));
    // Offsets up to the first failed record are done (those no longer in the log too).
    const done = firstFailed < 0 ? offsets.length : offsets.indexOf(records[firstFailed]!.offset);
    this.report.delivered += firstFailed < 0 ? records.length : firstFailed;
    const left = q.offsets.slice(done);
    if (left.length === 0) {
      if (!(await this.d.store().deleteQuarantine(this.sub.name, this.p, q.keyId, q.version)))
        throw new Error(`a quarantined key of ${this.sub.name}[${this.p}] changed under this run`);
      this.quarantined.delete(q.keyId);
      return true;
    }
    const attempts = firstFailed < 0 ? q.attempts : q.attempts + 1;
    const next: QuarantinedKey = {
      ...q,
      offsets: left,
      attempts,
      releasing: attempts <= this.sub.maxRetries,
      ...(firstFailed < 0 ? {} : { lastError: message(error ?? 'the target reported the record failed') }),
      version: q.version + 1,
    };
    if (!(await this.d.store().putQuarantine(this.sub.name, next, q.version)))
      throw new Error(`a quarantined key of ${this.sub.name}[${this.p}] changed under this run`);
    this.quarantined.set(q.keyId, next);
    if (firstFailed < 0) return true;
    this.report.failedAttempts++;
    this.failedReleases.add(q.keyId); // tried again by a later run
    return false;
  }

  /** Adds offsets to a key's quarantine; false when it is full. */
  private async park(q: QuarantinedKey, offsets: readonly number[], lastError: string): Promise<boolean> {
    // A batch parked before a crash comes again: its offsets are parked once.
    const added = offsets.filter((o) => !q.offsets.includes(o));
    if (q.offsets.length + added.length > MAX_QUARANTINED_PER_KEY) return false;
    const next: QuarantinedKey = {
      ...q,
      offsets: [...q.offsets, ...added],
      lastError,
      version: q.version + 1,
    };
    if (!(await this.d.store().putQuarantine(this.sub.name, next, q.version < 0 ? undefined : q.version)))
      throw new Error(`a quarantined key of ${this.sub.name}[${this.p}] changed under this run`);
    this.quarantined.set(q.keyId, next);
    return true;
  }

  private async deadLetter(records: readonly SubscriptionRecord[], error: string, attempts: number): Promise<void> {
    await deadLetter(this.d.sluice(), this.sub, records, error, attempts, this.d.now());
    this.report.deadLettered += records.length;
    await this.saveState({ retry: this.state?.retry }, 0, records.length);
  }

  /** The records at these offsets (those no longer in the log are left out). */
  private async readAt(offsets: readonly number[]): Promise<SubscriptionRecord[]> {
    if (offsets.length === 0) return [];
    const wanted = new Set(offsets);
    const out: SubscriptionRecord[] = [];
    const last = Math.max(...offsets);
    for (let at = Math.min(...offsets); at <= last;) {
      let got;
      try {
        got = await this.d.sluice().read(this.sub.topic, this.p, at, { maxRecords: Math.min(1_000, last - at + 1) });
      } catch (e) {
        if (!isSluiceError(e, 'OffsetOutOfRange')) throw e;
        const start = await this.d.sluice().offsetFor(this.sub.topic, this.p, 'earliest');
        if (start <= at) throw e;
        at = start;
        continue;
      }
      for (const r of got.records)
        if (wanted.has(r.offset)) out.push({ ...r, topic: this.sub.topic, partition: this.p });
      if (got.nextOffset <= at) break;
      at = got.nextOffset;
    }
    return out;
  }

  /** Exponential backoff with jitter: a random delay from half to all of initial × multiplier^(attempt-1), capped. */
  private backoff(attempt: number): number {
    const { initialMs, multiplier, maxMs } = this.sub.backoff;
    const ceiling = Math.min(maxMs, initialMs * multiplier ** (attempt - 1));
    return Math.round(ceiling / 2 + (this.d.random() * ceiling) / 2);
  }
}

/** Records split into `n` lanes by key, each lane in offset order. */
function laneOf(records: readonly SubscriptionRecord[], n: number): SubscriptionRecord[][] {
  const lanes: SubscriptionRecord[][] = Array.from({ length: n }, () => []);
  for (const r of records) lanes[parseInt(keyIdOf(r.key).slice(0, 8), 16) % n]!.push(r);
  return lanes.filter((l) => l.length > 0);
}

/**
 * Appends records a subscription gave up on to its `onFailure` topic, once each (an idempotent
 * producer per source record), with the share groups' failure headers. Without an `onFailure`
 * topic they are dropped, as Lambda drops records without an on-failure destination.
 */
export async function deadLetter(
  sluice: Sluice,
  sub: Subscription,
  records: readonly SubscriptionRecord[],
  error: string,
  attempts: number,
  now: number,
): Promise<void> {
  if (sub.onFailure === undefined) return;
  for (const r of records) {
    const id = createHash('sha256').update(`${sub.name}\n${sub.topic}\n${r.partition}\n${r.offset}`).digest('hex');
    await sluice.append(
      sub.onFailure.topic,
      [
        {
          ...(r.key === null ? {} : { key: r.key }),
          value: r.value,
          headers: {
            ...r.headers,
            original_topic: r.topic,
            original_partition: String(r.partition),
            original_offset: String(r.offset),
            error_message: error,
            failed_at: new Date(now).toISOString(),
            attempts: String(attempts),
            subscription: sub.name,
          },
        },
      ],
      { producer: { id: `sub-${id.slice(0, 40)}`, epoch: 0, sequence: 0 } },
    );
  }
}
