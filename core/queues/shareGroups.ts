import { randomUUID } from 'node:crypto';
import { InvalidArgument, SluiceError, TopicNotFound } from '../errors.ts';
import { EXCHANGE_HEADERS } from '../exchanges/exchanges.ts';
import { validateExchangeName, validateKey } from '../exchanges/exchange.ts';
import { validateTopicName } from '../log/topicConfig.ts';
import type { ConsumerRecord } from '../log/records.ts';
import { isolationOption, type Isolation, type Sluice } from '../log/sluice.ts';
import { DeadLetters, type Archive, type ExchangePublisher } from './deadLetters.ts';
import {
  CHUNK,
  ChunkDraft,
  STATE,
  chunkBase,
  emptyChunk,
  firstUndone,
  type ArchiveReason,
  type Lock,
} from './shareState.ts';
import type { PartitionWrite, ShareCursor, ShareGroupSettings, ShareMember, ShareStore } from './shareStore.ts';

/**
 * Share groups: queues on topics (Kafka 4's share groups, KIP-932). Any number of members consume
 * the same partitions; records are acquired one by one under a lock, acknowledged one by one, and
 * redelivered when released or when their lock expires, up to a delivery limit, after which they
 * are archived and dead-lettered. State lives per partition in the share store (see
 * `shareState.ts`) and changes only by conditional writes, so no record is ever held by two
 * members at once and none is lost.
 */

export const SHARE_DEFAULTS = {
  lockMs: 30_000,
  deliveryLimit: 5,
  maxInFlight: 2_000,
  sessionTimeoutMs: 45_000,
  maxRecords: 500,
} as const;

const LIMITS = {
  lockMs: [1_000, 3_600_000],
  deliveryLimit: [1, 35],
  maxInFlight: [CHUNK, 20_000],
  sessionTimeoutMs: [1_000, 3_600_000],
  maxRecords: [1, 10_000],
  waitMs: [0, 20_000],
  delayMs: [0, 86_400_000],
  messageTtlMs: [0, 2 ** 32],
  maxLength: [1, 100_000_000],
} as const;

/** Most records one acquisition archives from the head of a queue over its length (their dead letters follow). */
const MAX_DROPS = CHUNK;

/** How often a conflicting write to a partition's state is tried again (after reading it again). */
const MAX_CONFLICTS = 12;
const GROUP_NAME = /^[a-zA-Z0-9._-]{1,200}$/;
const MAX_ERROR_CHARS = 1_000;
/** A read's byte limit inside a poll (the poll's own budget is applied to what it takes). */
const MAX_READ_BYTES = 4 * 1024 * 1024;

export type AckType = 'accept' | 'release' | 'reject' | 'renew';

export interface ShareJoinOptions {
  readonly topics: readonly string[];
  /** Settings for a new group; a group that exists keeps its own (a different one is refused). */
  readonly start?: 'earliest' | 'latest';
  readonly lockMs?: number;
  readonly deliveryLimit?: number;
  readonly maxInFlight?: number;
  readonly deadLetterTopic?: string;
  readonly deadLetterExchange?: string;
  readonly deadLetterRoutingKey?: string;
  readonly messageTtlMs?: number;
  readonly sessionTimeoutMs?: number;
  /** Kafka's share.isolation.level (default `read_uncommitted`). */
  readonly isolation?: Isolation;
}

export interface ShareRecord extends ConsumerRecord {
  readonly topic: string;
  readonly partition: number;
  /** How many times this record has been acquired, this time included. */
  readonly deliveryCount: number;
  /** When the lock ends: acknowledge (or renew) before. */
  readonly lockedUntil: number;
}

export interface Ack {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly type: AckType;
  /** `release`: when the record may be delivered again (a redelivery backoff). */
  readonly delayMs?: number;
  /** `release` or `reject`: why, kept for the dead letter (its `error_message` header). */
  readonly errorMessage?: string;
}

/** An ack's outcome: applied, or refused with a typed error (the others still apply). */
export type AckResult = Pick<Ack, 'topic' | 'partition' | 'offset' | 'type'> &
  ({ readonly ok: true } | { readonly ok: false; readonly error: { code: string; message: string } });

/** The member does not hold this record (never acquired it, acknowledged it, or its lock expired). */
export class RecordNotHeld extends SluiceError {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  constructor(topic: string, partition: number, offset: number) {
    super(
      `The member does not hold ${topic}[${partition}] @ ${offset} (not acquired by it, already acknowledged, or its lock expired)`,
    );
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
  }
}

export class ShareGroupNotFound extends SluiceError {
  readonly group: string;
  constructor(group: string) {
    super(`Share group ${group} does not exist`);
    this.group = group;
  }
}

export class UnknownShareMember extends SluiceError {
  readonly group: string;
  readonly memberId: string;
  constructor(group: string, memberId: string) {
    super(`Member ${memberId.slice(0, 64)} is not in share group ${group} (its session may have ended); join again`);
    this.group = group;
    this.memberId = memberId.slice(0, 64);
  }
}

export class ShareGroupConflict extends SluiceError {
  readonly group: string;
  constructor(group: string, reason: string) {
    super(`Share group ${group}: ${reason}`);
    this.group = group;
  }
}

export interface SharePartitionView {
  readonly topic: string;
  readonly partition: number;
  /** Every record below it is done (accepted, archived or gone). */
  readonly startOffset: number;
  /** The first record never acquired. */
  readonly nextOffset: number;
  readonly highWatermark: number;
  /** Records between the start offset and the next, not done. */
  readonly inFlight: number;
  readonly acquired: number;
  readonly available: number;
  readonly archived: number;
  /** Records not done: in flight, and not yet acquired. */
  readonly lag: number;
}

export interface ShareGroupDescription {
  readonly group: string;
  readonly settings: ShareGroupSettings;
  readonly members: ShareMember[];
  readonly partitions: SharePartitionView[];
}

export type { ArchiveReason };

/** The settings a group keeps as it was created; joining with others is a `ShareGroupConflict`. */
const FIXED_SETTINGS = [
  'start',
  'lockMs',
  'deliveryLimit',
  'maxInFlight',
  'deadLetterTopic',
  'deadLetterExchange',
  'deadLetterRoutingKey',
  'messageTtlMs',
  'isolation',
] as const;

/** Every field a join takes. */
export const JOIN_KEYS = ['topics', ...FIXED_SETTINGS, 'sessionTimeoutMs'] as const;

export class ShareGroups {
  private readonly store: ShareStore;
  private readonly sluice: Sluice;
  private readonly now: () => number;
  private readonly deadLetters: DeadLetters;

  /** `exchanges` publishes dead letters to groups' dead-letter exchanges (without it, none may name one). */
  constructor(options: {
    readonly store: ShareStore;
    readonly sluice: Sluice;
    readonly exchanges?: ExchangePublisher;
    readonly now?: () => number;
  }) {
    this.store = options.store;
    this.sluice = options.sluice;
    this.now = options.now ?? Date.now;
    this.exchangesConfigured = options.exchanges !== undefined;
    this.deadLetters = new DeadLetters({
      sluice: options.sluice,
      ...(options.exchanges === undefined ? {} : { exchanges: options.exchanges }),
      now: this.now,
    });
  }

  private readonly exchangesConfigured: boolean;

  // ---------------------------------------------------------------- membership

  async join(group: string, options: ShareJoinOptions): Promise<{ memberId: string; settings: ShareGroupSettings }> {
    validateGroup(group);
    if (typeof options !== 'object' || options === null) throw new InvalidArgument('body', 'a join is { topics, … }');
    const topics = options.topics;
    if (!Array.isArray(topics) || topics.length === 0 || topics.length > 100)
      throw new InvalidArgument('topics', 'topics must be an array of 1 to 100 topic names');
    for (const t of topics) validateTopicName(t);
    const ids = await this.sluice.topicIds(topics);
    for (const t of topics) if (!ids.has(t)) throw new TopicNotFound(t);
    const wanted = await this.settingsFor(group, options);
    let settings = await this.store.createGroup(wanted);
    if (settings.queue === true && topics.some((t) => t !== group))
      throw new ShareGroupConflict(group, `it is a queue: its members consume topic ${group} only`);
    if (topics.some((t) => !(settings.topics ?? []).includes(t))) {
      await this.store.addTopics(group, topics);
      settings = { ...settings, topics: [...new Set([...(settings.topics ?? []), ...topics])].sort() };
    }
    for (const key of FIXED_SETTINGS) {
      if (options[key] !== undefined && options[key] !== settings[key])
        throw new ShareGroupConflict(
          group,
          `it was created with ${key} ${String(settings[key])}, not ${String(options[key])}`,
        );
    }
    const sessionTimeoutMs = bounded('sessionTimeoutMs', options.sessionTimeoutMs, SHARE_DEFAULTS.sessionTimeoutMs);
    const now = this.now();
    const member: ShareMember = {
      memberId: randomUUID(),
      topics: [...new Set(topics)],
      joinedAt: now,
      expiresAt: now + sessionTimeoutMs,
    };
    await this.store.putMember(group, member);
    return { memberId: member.memberId, settings };
  }

  /**
   * The settings a group created with `options` gets, checked: bad values are `InvalidArgument`,
   * and a dead-letter topic must exist.
   */
  async settingsFor(group: string, options: ShareJoinOptions): Promise<ShareGroupSettings> {
    validateGroup(group);
    const wanted = settingsFrom(group, options, this.now());
    if (wanted.deadLetterExchange !== undefined && !this.exchangesConfigured)
      throw new InvalidArgument('deadLetterExchange', 'this deployment has no exchanges to dead-letter to');
    if (wanted.deadLetterTopic !== undefined && (await this.sluice.topicIds([wanted.deadLetterTopic])).size === 0)
      throw new TopicNotFound(wanted.deadLetterTopic);
    return wanted;
  }

  /** Leaves the group: the member's acquired records become available again at once. */
  async leave(group: string, memberId: string): Promise<void> {
    validateGroup(group);
    const member = await this.member(group, memberId);
    const settings = (await this.store.getGroup(group))!;
    for (const p of await this.partitionsOf(member.topics)) {
      await this.change(group, settings, p, (drafts, now) => {
        for (const d of drafts.values())
          for (let o = d.base; o < d.base + CHUNK; o++) if (d.heldBy(o, memberId, now)) d.set(o, STATE.released);
        return { verdicts: [] };
      });
    }
    await this.store.deleteMember(group, memberId);
  }

  // ---------------------------------------------------------------- poll

  /**
   * Acquires up to `maxRecords` available records of the member's topics (released, expired, or
   * never delivered), locks them to the member for the group's `lockMs`, and returns them with
   * their delivery counts. Waits up to `waitMs` for records.
   */
  async poll(
    group: string,
    memberId: string,
    options: {
      maxRecords?: number;
      waitMs?: number;
      maxBytes?: number;
      measure?: (r: ShareRecord) => number;
      /** Called with the member's topics before anything is acquired; throws to refuse. */
      authorizeTopics?: (topics: readonly string[]) => Promise<void>;
    } = {},
  ): Promise<{ records: ShareRecord[] }> {
    validateGroup(group);
    const maxRecords = bounded('maxRecords', options.maxRecords, SHARE_DEFAULTS.maxRecords);
    const waitMs = bounded('waitMs', options.waitMs, 0);
    const member = await this.member(group, memberId);
    await options.authorizeTopics?.(member.topics);
    const settings =
      (await this.store.getGroup(group)) ??
      (() => {
        throw new ShareGroupNotFound(group);
      })();
    await this.touch(group, member);
    const partitions = await this.partitionsOf(member.topics);
    const deadline = this.now() + waitMs;
    for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
      const records: ShareRecord[] = [];
      let bytes = 0;
      // Start at a random partition, so members spread over partitions.
      const first = Math.floor(Math.random() * Math.max(1, partitions.length));
      for (let i = 0; i < partitions.length && records.length < maxRecords; i++) {
        const p = partitions[(first + i) % partitions.length]!;
        const budget = options.maxBytes === undefined ? undefined : options.maxBytes - bytes;
        if (budget !== undefined && budget <= 0 && records.length > 0) break;
        const got = await this.acquire(group, settings, memberId, p, maxRecords - records.length, {
          ...(budget === undefined ? {} : { maxBytes: budget, first: records.length === 0 }),
          ...(options.measure === undefined ? {} : { measure: options.measure }),
        });
        for (const r of got) bytes += options.measure?.(r) ?? 0;
        records.push(...got);
      }
      if (records.length > 0 || this.now() >= deadline) return { records };
      await new Promise((r) => setTimeout(r, Math.min(pause, Math.max(0, deadline - this.now()))));
    }
  }

  private async acquire(
    group: string,
    settings: ShareGroupSettings,
    memberId: string,
    p: { topic: string; partition: number; key: string },
    want: number,
    limits: { maxBytes?: number; first?: boolean; measure?: (r: ShareRecord) => number },
  ): Promise<ShareRecord[]> {
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const now = this.now();
      const state = await this.store.readPartition(group, p.key);
      const logStart = await this.sluice.offsetFor(p.topic, p.partition, 'earliest');
      const highWatermark = await this.sluice.offsetFor(p.topic, p.partition, 'latest');
      const cursor: ShareCursor = state.cursor ?? initialCursor(settings, logStart, highWatermark);
      const drafts = new Map(state.chunks.map((c) => [c.base, new ChunkDraft(c)]));
      const draftAt = (offset: number) => {
        const base = chunkBase(offset);
        let d = drafts.get(base);
        if (d === undefined) {
          d = new ChunkDraft({ ...emptyChunk(base), version: -1 }); // new: written with "must not exist"
          drafts.set(base, d);
        }
        return d;
      };
      // In flight: records below the log start are gone (retention or delete-records removed
      // them); available ones at the delivery limit are archived; the other available ones are
      // ready, lowest offset first; acquired ones are unacknowledged.
      // Archived records whose dead letters a crash left unwritten are finished in this write.
      const finishing = [...drafts.values()].flatMap((d) => d.pending().map((x) => archiveOf(d, x.offset, x.reason)));
      let archiving = 0;
      let unacknowledged = 0;
      const ready: number[] = [];
      for (const d of [...drafts.values()].sort((x, y) => x.base - y.base)) {
        for (let o = Math.max(d.base, cursor.start); o < Math.min(d.base + CHUNK, cursor.next); o++) {
          const s = d.state(o);
          if (s === STATE.accepted || s === STATE.archived || s === STATE.gone) continue;
          if (o < logStart) d.set(o, STATE.gone);
          else if (!d.available(o, now)) {
            if (s === STATE.acquired) unacknowledged++;
          } else if (d.deliveryCount(o) >= settings.deliveryLimit) {
            d.set(o, STATE.exhausted);
            archiving++;
          } else ready.push(o);
        }
      }
      const next = Math.max(cursor.next, logStart);
      const start = Math.max(firstUndone(cursor.start, cursor.next, drafts), logStart);
      const windowEnd = Math.min(highWatermark, start + settings.maxInFlight);
      // A queue over its length drops ready records from its head: in flight first, then from `next`.
      const excess =
        settings.overflow === 'drop-head' && settings.maxLength !== undefined
          ? Math.max(0, unacknowledged + ready.length + Math.max(0, highWatermark - next) - settings.maxLength)
          : 0;
      const drop = Math.min(excess, MAX_DROPS);
      const droppedReady = ready.splice(0, Math.min(drop, ready.length));
      for (const o of droppedReady) draftAt(o).set(o, STATE.dropping);
      const droppedFresh = Math.max(0, Math.min(drop - droppedReady.length, windowEnd - next));
      for (let o = next; o < next + droppedFresh; o++) draftAt(o).set(o, STATE.dropping);
      archiving += drop;
      // What is still over the length is dropped first, by the next acquisition: nothing is delivered now.
      const deliverable = droppedReady.length + droppedFresh < excess ? 0 : want;
      const candidates = ready.slice(0, deliverable);
      // Then records never delivered, within the in-flight window.
      const freshFrom = next + droppedFresh;
      const fresh = Math.max(0, Math.min(deliverable - candidates.length, windowEnd - freshFrom));
      const read = new Map<number, ConsumerRecord>();
      for (const range of ranges(candidates)) {
        const got = await this.sluice.read(p.topic, p.partition, range.from, {
          maxRecords: range.to - range.from + 1,
          maxBytes: MAX_READ_BYTES,
          ...(settings.isolation === undefined ? {} : { isolation: settings.isolation }),
        });
        for (const r of got.records) if (r.offset <= range.to) read.set(r.offset, r);
      }
      let freshRecords: ConsumerRecord[] = [];
      let freshEnd = freshFrom;
      if (fresh > 0) {
        const got = await this.sluice.read(p.topic, p.partition, freshFrom, {
          maxRecords: fresh,
          maxBytes: MAX_READ_BYTES,
          ...(settings.isolation === undefined ? {} : { isolation: settings.isolation }),
        });
        freshRecords = got.records.filter((r) => r.offset < windowEnd);
        freshEnd = Math.min(got.nextOffset, windowEnd);
      }
      // Take records within the byte budget: candidates first, then fresh ones in offset order
      // (a fresh record not taken ends the fresh range: it and those after it stay fresh).
      // Records past their time to live are archived instead.
      const lock: Lock = { member: memberId, until: now + settings.lockMs };
      const taken: { offset: number; record: ShareRecord }[] = [];
      let bytes = 0;
      const fits = (record: ShareRecord) => {
        if (limits.maxBytes === undefined) return true;
        const size = limits.measure?.(record) ?? 0;
        if (bytes + size > limits.maxBytes && !(limits.first === true && taken.length === 0)) return false;
        bytes += size;
        return true;
      };
      const shareRecord = (r: ConsumerRecord, d: ChunkDraft): ShareRecord => ({
        ...r,
        topic: p.topic,
        partition: p.partition,
        deliveryCount: d.deliveryCount(r.offset) + 1,
        lockedUntil: lock.until,
      });
      const expire = (r: ConsumerRecord): boolean => {
        if (!expired(settings, r, now)) return false;
        draftAt(r.offset).set(r.offset, STATE.expiring);
        archiving++;
        return true;
      };
      for (const o of candidates) {
        const r = read.get(o);
        if (r === undefined)
          draftAt(o).set(o, STATE.gone); // no longer there (compacted away)
        else if (!expire(r) && fits(shareRecord(r, draftAt(o))))
          taken.push({ offset: o, record: shareRecord(r, draftAt(o)) });
      }
      let newNext = freshEnd;
      for (const r of freshRecords) {
        if (expire(r)) continue;
        const record = shareRecord(r, draftAt(r.offset));
        if (!fits(record)) {
          newNext = r.offset;
          break;
        }
        taken.push({ offset: r.offset, record });
      }
      const present = new Set(freshRecords.map((r) => r.offset));
      for (let o = freshFrom; o < newNext; o++) if (!present.has(o)) draftAt(o).set(o, STATE.gone); // gaps
      for (const t of taken) draftAt(t.offset).acquire(t.offset, lock);
      await this.deadLetters.write(settings, p, finishing);
      for (const a of finishing) draftAt(a.offset).set(a.offset, STATE.archived);
      const moved: ShareCursor = { ...cursor, next: Math.max(newNext, next + droppedFresh) };
      if (await this.commit(group, p.key, drafts, { stored: state.cursor, next: moved })) {
        if (archiving > 0) await this.change(group, settings, p, () => ({ verdicts: [] })); // their dead letters
        return taken.map((t) => t.record);
      }
      await backoff(attempt);
    }
    return []; // busy: other members are changing this partition; the next poll tries again
  }

  // ---------------------------------------------------------------- acknowledgements

  /**
   * Applies acknowledgements, each on its own: one for a record the member does not hold is
   * refused (`RecordNotHeld`) while the others apply. Acks of one partition are one write.
   */
  async acknowledge(group: string, memberId: string, acks: readonly Ack[]): Promise<AckResult[]> {
    validateGroup(group);
    if (!Array.isArray(acks) || acks.length === 0 || acks.length > 10_000)
      throw new InvalidArgument('acks', 'acks must be an array of 1 to 10000 { topic, partition, offset, type }');
    const checked = acks.map((a, i) => checkAck(a, i));
    const settings = await this.store.getGroup(group);
    if (settings === undefined) throw new ShareGroupNotFound(group);
    const ids = await this.sluice.topicIds([...new Set(checked.map((a) => a.topic))]);
    const results = new Map<number, AckResult>();
    const byPartition = new Map<string, { topic: string; partition: number; items: { ack: Ack; index: number }[] }>();
    checked.forEach((ack, index) => {
      const topicId = ids.get(ack.topic);
      if (topicId === undefined) {
        results.set(index, {
          topic: ack.topic,
          partition: ack.partition,
          offset: ack.offset,
          type: ack.type,
          ok: false,
          error: errorShape(new TopicNotFound(ack.topic)),
        });
        return;
      }
      const key = `${topicId}/${ack.partition}`;
      const entry = byPartition.get(key) ?? { topic: ack.topic, partition: ack.partition, items: [] };
      entry.items.push({ ack, index });
      byPartition.set(key, entry);
    });
    for (const [key, { topic, partition, items }] of byPartition) {
      const verdicts = await this.change(group, settings, { topic, partition, key }, (drafts, now) => {
        const held = items.map(({ ack }) => {
          const d = drafts.get(chunkBase(ack.offset));
          if (d === undefined || !d.heldBy(ack.offset, memberId, now)) return false;
          const o = ack.offset;
          const error = ack.errorMessage === undefined ? {} : { error: ack.errorMessage };
          if (ack.type === 'accept') d.set(o, STATE.accepted);
          else if (ack.type === 'renew') d.renew(o, memberId, now + settings.lockMs);
          else if (ack.type === 'reject') d.set(o, STATE.rejecting, error);
          else if (d.deliveryCount(o) >= settings.deliveryLimit) d.set(o, STATE.exhausted, error);
          else d.set(o, STATE.released, { availableAt: now + (ack.delayMs ?? 0), ...error });
          return true;
        });
        return { verdicts: held };
      });
      items.forEach(({ ack, index }, k) => {
        const which = { topic, partition, offset: ack.offset, type: ack.type };
        results.set(
          index,
          verdicts[k] === true
            ? { ...which, ok: true }
            : { ...which, ok: false, error: errorShape(new RecordNotHeld(topic, partition, ack.offset)) },
        );
      });
    }
    return checked.map((_, i) => results.get(i)!);
  }

  /**
   * Reads a partition's state, lets `decide` change its chunks (answering a verdict per request),
   * and writes back conditionally, again after a conflict. Archived records whose dead letters are
   * not written yet (decided before, by anyone) are dead-lettered and marked archived in the same
   * write; those `decide` archives are finished by one more pass.
   */
  private async change(
    group: string,
    settings: ShareGroupSettings,
    p: { topic: string; partition: number; key: string },
    decide: (drafts: Map<number, ChunkDraft>, now: number) => { verdicts: boolean[] },
  ): Promise<boolean[]> {
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const now = this.now();
      const state = await this.store.readPartition(group, p.key);
      const drafts = new Map(state.chunks.map((c) => [c.base, new ChunkDraft(c)]));
      const finishing = [...drafts.values()].flatMap((d) => d.pending().map((x) => archiveOf(d, x.offset, x.reason)));
      const { verdicts } = decide(drafts, now);
      if (state.cursor === undefined) return verdicts; // nothing was ever acquired here
      const decided = [...drafts.values()].some((d) => d.pending().length > 0 && d.changed);
      await this.deadLetters.write(settings, p, finishing);
      for (const a of finishing) drafts.get(chunkBase(a.offset))!.set(a.offset, STATE.archived);
      if (await this.commit(group, p.key, drafts)) {
        if (decided) await this.change(group, settings, p, () => ({ verdicts: [] }));
        return verdicts;
      }
      await backoff(attempt);
    }
    throw new ShareGroupConflict(group, 'the partition kept changing; try again');
  }

  /**
   * Writes the changed chunks. A poll (`cursor` given) also moves the cursor: its `next`, and the
   * start offset past finished records, removing chunks wholly below it (their archived records
   * counted into the cursor). Acknowledgements write chunks only, so they contend with each other
   * and with polls only on the chunks they change.
   */
  private async commit(
    group: string,
    key: string,
    drafts: Map<number, ChunkDraft>,
    cursor?: { readonly stored: ShareCursor | undefined; readonly next: ShareCursor },
  ): Promise<boolean> {
    const start = cursor === undefined ? -1 : firstUndone(cursor.next.start, cursor.next.next, drafts);
    const chunks: PartitionWrite['chunks'][number][] = [];
    let archived = 0;
    for (const d of drafts.values()) {
      const expectedVersion = d.version < 0 ? undefined : d.version;
      if (d.base + CHUNK <= start) {
        if (expectedVersion === undefined) continue; // made and finished within this write
        archived += d.count(STATE.archived);
        chunks.push({ base: d.base, next: null, expectedVersion });
      } else if (d.changed) {
        chunks.push({ base: d.base, next: d.freeze(), expectedVersion });
      }
    }
    const stored = cursor?.stored;
    const moved =
      cursor !== undefined &&
      (stored === undefined || start !== stored.start || cursor.next.next !== stored.next || archived > 0);
    const write: PartitionWrite = {
      chunks,
      ...(moved
        ? {
            cursor: {
              next: {
                start,
                next: cursor.next.next,
                archived: (stored?.archived ?? 0) + archived,
                version: (stored?.version ?? -1) + 1,
              },
              expectedVersion: stored?.version,
            },
          }
        : {}),
    };
    return this.store.writePartition(group, key, write);
  }

  // ---------------------------------------------------------------- admin

  /** The group's settings, live members and partitions (`members: false`: without reading members). */
  async describe(group: string, options: { readonly members?: boolean } = {}): Promise<ShareGroupDescription> {
    validateGroup(group);
    const settings = await this.store.getGroup(group);
    if (settings === undefined) throw new ShareGroupNotFound(group);
    const now = this.now();
    const members =
      options.members === false ? [] : (await this.store.listMembers(group)).filter((m) => m.expiresAt > now);
    const topics = [...new Set([...(settings.topics ?? []), ...members.flatMap((m) => m.topics)])].sort();
    const partitions: SharePartitionView[] = [];
    for (const p of await this.partitionsOf(topics)) {
      const state = await this.store.readPartition(group, p.key);
      const highWatermark = await this.sluice.offsetFor(p.topic, p.partition, 'latest');
      const logStart = await this.sluice.offsetFor(p.topic, p.partition, 'earliest');
      const drafts = new Map(state.chunks.map((c) => [c.base, new ChunkDraft(c)]));
      // The cursor's start moves with polls; what acks finished since counts too.
      const start =
        state.cursor === undefined
          ? settings.start === 'latest'
            ? highWatermark
            : logStart
          : Math.max(firstUndone(state.cursor.start, state.cursor.next, drafts), Math.min(logStart, state.cursor.next));
      const next = state.cursor?.next ?? start;
      let acquired = 0;
      let available = 0;
      let inFlight = 0;
      let archived = state.cursor?.archived ?? 0;
      for (const d of drafts.values()) {
        archived += d.count(STATE.archived);
        for (let o = Math.max(d.base, start); o < Math.min(d.base + CHUNK, next); o++) {
          const s = d.state(o);
          if (s === STATE.accepted || s === STATE.archived || s === STATE.gone) continue;
          inFlight++;
          if (d.available(o, now)) available++;
          else if (s === STATE.acquired) acquired++;
        }
      }
      partitions.push({
        topic: p.topic,
        partition: p.partition,
        startOffset: start,
        nextOffset: next,
        highWatermark,
        inFlight,
        acquired,
        available,
        archived,
        lag: inFlight + Math.max(0, highWatermark - next),
      });
    }
    return { group, settings, members, partitions };
  }

  async list(): Promise<string[]> {
    return this.store.listGroups();
  }

  /** Deletes a group with no live members (its state and settings). */
  async delete(group: string): Promise<void> {
    validateGroup(group);
    if ((await this.store.getGroup(group)) === undefined) throw new ShareGroupNotFound(group);
    const now = this.now();
    if ((await this.store.listMembers(group)).some((m) => m.expiresAt > now))
      throw new ShareGroupConflict(group, 'it has live members; they must leave (or their sessions end) first');
    await this.store.deleteGroup(group);
  }

  // ---------------------------------------------------------------- helpers

  private async member(group: string, memberId: string): Promise<ShareMember> {
    if (typeof memberId !== 'string' || !/^[0-9a-f-]{36}$/.test(memberId))
      throw new UnknownShareMember(group, String(memberId));
    const member = await this.store.getMember(group, memberId);
    if (member === undefined || member.expiresAt <= this.now()) {
      if ((await this.store.getGroup(group)) === undefined) throw new ShareGroupNotFound(group);
      throw new UnknownShareMember(group, memberId);
    }
    return member;
  }

  /** A poll keeps the member's session: its item is written when half of the session is gone. */
  private async touch(group: string, member: ShareMember): Promise<void> {
    const session = member.expiresAt - member.joinedAt;
    const now = this.now();
    if (member.expiresAt - now < session / 2)
      await this.store.putMember(group, { ...member, joinedAt: now, expiresAt: now + session });
  }

  private async partitionsOf(topics: readonly string[]): Promise<{ topic: string; partition: number; key: string }[]> {
    const counts = await this.sluice.partitionCounts(topics);
    const ids = await this.sluice.topicIds(topics);
    return topics.flatMap((topic) =>
      ids.has(topic)
        ? Array.from({ length: counts[topic] ?? 0 }, (_, partition) => ({
            topic,
            partition,
            key: `${ids.get(topic)!}/${partition}`,
          }))
        : [],
    );
  }
}

/** A pause after a conflicting write, growing and jittered, so racing writers spread out. */
function backoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** attempt)));
}

function initialCursor(settings: ShareGroupSettings, logStart: number, highWatermark: number): ShareCursor {
  const start = settings.start === 'latest' ? highWatermark : logStart;
  return { start, next: start, archived: 0, version: -1 };
}

/** Whether a record's time to live (the group's, or its own `x-expiration` if shorter) has run out. */
function expired(settings: ShareGroupSettings, record: ConsumerRecord, now: number): boolean {
  let ttl = settings.messageTtlMs;
  const header = record.headers[EXCHANGE_HEADERS.expiration];
  if (typeof header === 'string' && /^\d{1,10}$/.test(header)) ttl = Math.min(ttl ?? Infinity, Number(header));
  return ttl !== undefined && record.timestamp + ttl <= now;
}

function archiveOf(d: ChunkDraft, offset: number, reason: ArchiveReason): Archive {
  const error = d.error(offset);
  return { offset, reason, deliveryCount: d.deliveryCount(offset), ...(error === undefined ? {} : { error }) };
}

function errorShape(e: SluiceError): { code: string; message: string } {
  return e.toJSON() as { code: string; message: string };
}

/** Sorted offsets as runs `[from, to]` of nearby offsets (read with one request each). */
function ranges(offsets: readonly number[]): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  for (const o of [...offsets].sort((a, b) => a - b)) {
    const last = out.at(-1);
    if (last !== undefined && o - last.to <= CHUNK) last.to = o;
    else out.push({ from: o, to: o });
  }
  return out;
}

function validateGroup(group: string): void {
  if (typeof group !== 'string' || !GROUP_NAME.test(group))
    throw new InvalidArgument('group', 'a share group name is 1 to 200 letters, digits, dots, dashes or underscores');
}

function bounded(field: keyof typeof LIMITS, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const [min, max] = LIMITS[field];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw new InvalidArgument(field, `${field} must be an integer from ${min} to ${max}`);
  return value;
}

function settingsFrom(group: string, options: ShareJoinOptions, now: number): ShareGroupSettings {
  if (options.start !== undefined && options.start !== 'earliest' && options.start !== 'latest')
    throw new InvalidArgument('start', 'start must be earliest or latest');
  if (options.deadLetterTopic !== undefined) validateTopicName(options.deadLetterTopic);
  if (options.deadLetterExchange !== undefined) validateExchangeName(options.deadLetterExchange, 'deadLetterExchange');
  if (options.deadLetterTopic !== undefined && options.deadLetterExchange !== undefined)
    throw new InvalidArgument('deadLetterExchange', 'dead letters go to a topic or an exchange, not both');
  if (options.deadLetterRoutingKey !== undefined) {
    validateKey('deadLetterRoutingKey', options.deadLetterRoutingKey);
    if (options.deadLetterExchange === undefined)
      throw new InvalidArgument('deadLetterRoutingKey', 'deadLetterRoutingKey goes with deadLetterExchange');
  }
  return {
    name: group,
    start: options.start ?? 'earliest',
    lockMs: bounded('lockMs', options.lockMs, SHARE_DEFAULTS.lockMs),
    deliveryLimit: bounded('deliveryLimit', options.deliveryLimit, SHARE_DEFAULTS.deliveryLimit),
    maxInFlight: bounded('maxInFlight', options.maxInFlight, SHARE_DEFAULTS.maxInFlight),
    ...(options.deadLetterTopic === undefined ? {} : { deadLetterTopic: options.deadLetterTopic }),
    ...(options.deadLetterExchange === undefined ? {} : { deadLetterExchange: options.deadLetterExchange }),
    ...(options.deadLetterRoutingKey === undefined ? {} : { deadLetterRoutingKey: options.deadLetterRoutingKey }),
    ...(options.messageTtlMs === undefined ? {} : { messageTtlMs: bounded('messageTtlMs', options.messageTtlMs, 0) }),
    ...(isolationOption(options.isolation) === 'read_committed' ? { isolation: 'read_committed' as const } : {}),
    createdAt: now,
  };
}

function checkAck(a: unknown, i: number): Ack {
  if (typeof a !== 'object' || a === null)
    throw new InvalidArgument(`acks[${i}]`, 'an ack is { topic, partition, offset, type }');
  const ack = a as Record<string, unknown>;
  const unknown = Object.keys(ack).find(
    (k) => !['topic', 'partition', 'offset', 'type', 'delayMs', 'errorMessage'].includes(k),
  );
  if (unknown !== undefined) throw new InvalidArgument(`acks[${i}].${unknown.slice(0, 64)}`, 'unknown field');
  validateTopicName(ack.topic);
  for (const f of ['partition', 'offset'] as const)
    if (typeof ack[f] !== 'number' || !Number.isSafeInteger(ack[f]) || ack[f] < 0)
      throw new InvalidArgument(`acks[${i}].${f}`, `${f} must be a non-negative integer`);
  if (!['accept', 'release', 'reject', 'renew'].includes(ack.type as string))
    throw new InvalidArgument(`acks[${i}].type`, 'type must be accept, release, reject or renew');
  if (ack.delayMs !== undefined && ack.type !== 'release')
    throw new InvalidArgument(`acks[${i}].delayMs`, 'delayMs goes with release only');
  if (ack.delayMs !== undefined) bounded('delayMs', ack.delayMs, 0);
  if (
    ack.errorMessage !== undefined &&
    (typeof ack.errorMessage !== 'string' ||
      ack.errorMessage.length > MAX_ERROR_CHARS ||
      (ack.type !== 'release' && ack.type !== 'reject'))
  )
    throw new InvalidArgument(
      `acks[${i}].errorMessage`,
      `errorMessage is a string of at most ${MAX_ERROR_CHARS} characters, with release or reject`,
    );
  return ack as unknown as Ack;
}
