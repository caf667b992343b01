import { randomUUID } from 'node:crypto';
import {
  FencedMember,
  GroupContention,
  GroupNotEmpty,
  GroupNotFound,
  InconsistentAssignor,
  InvalidArgument,
  NoCommittedOffset,
  NotAssigned,
  OffsetRegression,
  TopicNotFound,
  UnknownMember,
  isSluiceError,
  type SluiceError,
} from '../errors.ts';
import type { AtomicPart } from '../ports.ts';
import { mapWithLimit } from '../async.ts';
import type { ConsumerRecord } from '../log/records.ts';
import {
  MAX_READ_BYTES,
  isolationOption,
  type Isolation,
  type OffsetSpec,
  type ReadOptions,
  type Sluice,
} from '../log/sluice.ts';
import { validateTopicName } from '../log/topicConfig.ts';
import { ASSIGNORS, comparePartitions, parseTp, tp, type AssignorName } from './assignors.ts';
import {
  MAX_COMMIT_OFFSETS,
  MAX_MEMBER_CHANGES,
  MAX_STEP_ITEMS,
  type CommitRequest,
  type CommitResult,
  type CommittedOffset,
  type GroupPartition,
  type GroupSnapshot,
  type GroupStore,
  type Rebalance,
} from './groupStore.ts';
import {
  applyPlan,
  assignmentId,
  covered,
  emptyGroup,
  planMember,
  positionKey,
  revokingFrom,
  sameSubscription,
  subscribedTopics,
  targetsFor,
  type GroupMeta,
  type MemberInfo,
  type MemberPlan,
  type MemberState,
} from './groupState.ts';

export interface JoinOptions {
  readonly topics: readonly string[];
  /** Static membership: a member restarting with the same id within its session keeps its partitions. */
  readonly instanceId?: string;
  readonly sessionTimeoutMs?: number;
  readonly rebalanceTimeoutMs?: number;
  readonly assignor?: AssignorName;
  readonly autoOffsetReset?: 'earliest' | 'latest' | 'error';
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface MembershipView {
  readonly memberId: string;
  readonly generation: number;
  /** Partitions the member owns now and may consume. */
  readonly assignments: TopicPartition[];
  /** Owned partitions the member is asked to release: commit, then release them. */
  readonly revoking: TopicPartition[];
}

export interface PollOptions {
  readonly maxRecords?: number;
  readonly maxBytes?: number;
  readonly waitMs?: number;
  /** Partitions not to fetch this time (paused by the client). */
  readonly paused?: readonly TopicPartition[];
  /** Move the member's position on these partitions before fetching. */
  readonly seek?: readonly (TopicPartition & { readonly offset: number })[];
  /** Revoked partitions the member has finished with. */
  readonly release?: readonly TopicPartition[];
  /**
   * Kafka's isolation.level: `read_committed` stops each partition at its last stable offset and
   * skips aborted transactions' records. @default 'read_uncommitted'
   */
  readonly isolation?: Isolation;
  /** A record's size as the caller sends it, so `maxBytes` bounds the response (see `ReadOptions.measure`). */
  readonly measure?: (record: GroupRecord) => number;
  /**
   * Called with the member's subscribed topics before anything is read; throws to refuse (the
   * caller may no longer read one of them). The member's heartbeat part is done by then.
   */
  readonly authorizeTopics?: (topics: readonly string[]) => Promise<void>;
}

export interface GroupRecord extends ConsumerRecord {
  readonly topic: string;
  readonly partition: number;
}

export interface CommitOffsets {
  readonly memberId: string;
  readonly generation: number;
  readonly offsets: readonly (TopicPartition & { readonly offset: number; readonly metadata?: string })[];
}

export interface PartitionLag extends TopicPartition {
  readonly committed: number | null;
  readonly metadata: string | null;
  readonly highWatermark: number;
  readonly lag: number;
}

export interface GroupDescription {
  readonly group: string;
  readonly state: 'Empty' | 'Stable' | 'Rebalancing';
  readonly generation: number;
  readonly assignor: AssignorName;
  readonly members: {
    memberId: string;
    instanceId: string | null;
    topics: readonly string[];
    assignments: TopicPartition[];
    target: TopicPartition[];
    sessionExpiresAt: number;
  }[];
  readonly offsets: PartitionLag[];
  readonly totalLag: number;
}

export interface ConsumerGroupsOptions {
  readonly store: GroupStore;
  readonly sluice: Sluice;
  readonly now?: () => number;
}

const DEFAULTS = {
  sessionTimeoutMs: 45_000, // Kafka's session.timeout.ms default
  assignor: 'cooperative-sticky' as AssignorName, // no stop-the-world rebalances
  autoOffsetReset: 'latest' as const, // Kafka's auto.offset.reset default
  maxRecords: 500, // Kafka's max.poll.records default
};
const SESSION_TIMEOUT_RANGE = [1_000, 300_000] as const;
const MAX_WAIT_MS = 20_000;
const MAX_UPDATE_ATTEMPTS = 50;
const MAX_METADATA_CHARS = 4096;
const DESCRIBE_CONCURRENCY = 32; // partitions whose offsets a describe looks up at once

/**
 * Kafka's consumer groups without a broker. All coordination state is in the metadata table and
 * every change is a conditional write; there is no background process: an expired member is
 * removed by whichever call notices first (a join, leave or describe, its own call, or the
 * heartbeat or poll of the member before it in id order, which watches its session).
 */
export class ConsumerGroups {
  private readonly store: GroupStore;
  private readonly sluice: Sluice;
  private readonly now: () => number;

  constructor(options: ConsumerGroupsOptions) {
    this.store = options.store;
    this.sluice = options.sluice;
    this.now = options.now ?? Date.now;
  }

  async join(group: string, options: JoinOptions): Promise<MembershipView> {
    validateGroup(group);
    const request = validateJoin(options);
    const existing = await this.sluice.partitionCounts(request.topics);
    for (const topic of request.topics) if (!Object.hasOwn(existing, topic)) throw new TopicNotFound(topic);
    const memberId = randomUUID();
    const { joined } = await this.rebalance(group, { join: { memberId, request } });
    // The session began when the rebalance read the group; the step's transfer extends it, so the
    // member leaves the join with a whole session ahead of it, not what the join's writes left.
    const { view, member, extended } = await this.step(group, memberId, [], false, joined);
    if (!extended && !(await this.touch(group, member))) throw await this.ended(group, memberId);
    return view;
  }

  async heartbeat(
    group: string,
    memberId: string,
    options: { release?: readonly TopicPartition[] } = {},
  ): Promise<MembershipView> {
    validateGroup(group);
    validateMemberId(group, memberId);
    const { view, member, extended } = await this.step(group, memberId, keysOf(options.release), false);
    if (!extended && !(await this.touch(group, member))) throw await this.ended(group, memberId);
    return view;
  }

  async leave(group: string, memberId: string): Promise<void> {
    validateGroup(group);
    validateMemberId(group, memberId);
    await this.rebalance(group, { leave: memberId });
  }

  /**
   * Fetches records from the member's partitions, from its position (else the committed offset,
   * else its autoOffsetReset), advancing the position without committing. Also a heartbeat.
   */
  async poll(
    group: string,
    memberId: string,
    options: PollOptions = {},
  ): Promise<MembershipView & { records: GroupRecord[] }> {
    const maxRecords = boundedInteger('maxRecords', options.maxRecords, DEFAULTS.maxRecords, 1, 10_000);
    const maxBytes = boundedInteger('maxBytes', options.maxBytes, 1024 * 1024, 1, MAX_READ_BYTES);
    const waitMs = boundedInteger('waitMs', options.waitMs, 0, 0, MAX_WAIT_MS);
    const isolation = isolationOption(options.isolation);
    validateGroup(group);
    validateMemberId(group, memberId);
    const step = await this.step(group, memberId, keysOf(options.release), true);
    const { member, target } = step;
    const info = member.info;
    const mine = new Set(Object.keys(member.owned)); // including partitions being revoked
    const paused = new Set((options.paused ?? []).map((p) => tp(p.topic, p.partition)).filter((key) => mine.has(key)));
    const revoking = new Set(revokingFrom(member, target));
    const fetched = [...mine].filter((key) => !paused.has(key) && !revoking.has(key));
    await options.authorizeTopics?.(info.topics);
    // Positions are stored under the partition's grant: one from an earlier ownership is stale.
    const positions = new Map<string, number>();
    for (const key of mine) {
      const position = step.positions[positionKey(key, member.owned[key]!)];
      if (position !== undefined) positions.set(key, position);
    }
    for (const s of options.seek ?? []) {
      const key = tp(s.topic, s.partition);
      if (!mine.has(key)) throw new NotAssigned(group, memberId, s.topic, s.partition);
      positions.set(key, boundedInteger('seek.offset', s.offset, undefined, 0, Number.MAX_SAFE_INTEGER));
    }
    const extendSession = (withPositions?: Record<string, number>) =>
      this.store.touchMember(group, memberId, this.now() + info.sessionTimeoutMs, this.now(), withPositions);
    let records: GroupRecord[];
    try {
      const unknown = fetched.filter((key) => !positions.has(key));
      const committed = unknown.length > 0 ? await this.committedOffsets(group, unknown) : {};
      for (const key of unknown)
        positions.set(key, committed[key]?.offset ?? (await this.resetPosition(group, key, info.autoOffsetReset)));
      const deadline = this.now() + waitMs;
      for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
        records = await this.fetch(
          group,
          fetched,
          positions,
          info.autoOffsetReset,
          maxRecords,
          maxBytes,
          options.measure,
          isolation,
        );
        if (records.length > 0 || this.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, Math.min(pause, deadline - this.now())));
      }
    } catch (e) {
      await extendSession(); // a failed poll still shows the member is alive
      throw e;
    }
    for (const r of records) positions.set(tp(r.topic, r.partition), r.offset + 1);
    const next: Record<string, number> = {};
    for (const [key, offset] of positions) next[positionKey(key, member.owned[key]!)] = offset;
    if (!(await extendSession(next))) throw await this.ended(group, memberId);
    return { ...step.view, records };
  }

  /** Commits offsets (the next offset to read, as in Kafka), fenced by owner and generation. */
  async commit(group: string, request: CommitOffsets): Promise<void> {
    const prepared = await this.prepareCommit(group, request);
    const result = await this.store.commitOffsets(group, prepared, this.now());
    if (result.outcome === 'ok') return;
    throw await this.commitRejection(group, prepared, result);
  }

  /**
   * A commit as part of an atomic write (a transaction commits the offsets it consumed with the
   * records it produced): validated as `commit` validates, fenced as `commit` fences. When the
   * write is rejected on this part, `rejection(item)` says why, as `commit` would have thrown.
   */
  async commitPart(
    group: string,
    request: CommitOffsets,
  ): Promise<{ part: AtomicPart; rejection: (item: number) => Promise<SluiceError> }> {
    const prepared = await this.prepareCommit(group, request);
    return {
      part: this.store.commitPart(group, prepared, this.now()),
      rejection: (item) =>
        this.commitRejection(
          group,
          prepared,
          item === 0
            ? { outcome: 'rejected', reason: 'group' }
            : item === 1
              ? { outcome: 'rejected', reason: 'member' }
              : { outcome: 'rejected', reason: 'partition', key: prepared.offsets[item - 2]!.key },
        ),
    };
  }

  private async prepareCommit(group: string, request: CommitOffsets): Promise<CommitRequest> {
    validateGroup(group);
    if (typeof request !== 'object' || request === null)
      throw new InvalidArgument('body', 'a commit is { memberId, generation, offsets }');
    if (typeof request.memberId !== 'string') throw new InvalidArgument('memberId', 'memberId must be a string');
    boundedInteger('generation', request.generation, undefined, 0, Number.MAX_SAFE_INTEGER);
    if (!MEMBER_ID.test(request.memberId))
      throw new FencedMember(
        group,
        request.memberId.slice(0, 64),
        request.generation,
        0,
        'it is not a member of the group',
      );
    if (
      !Array.isArray(request.offsets) ||
      request.offsets.length === 0 ||
      request.offsets.length > MAX_COMMIT_OFFSETS
    ) {
      throw new InvalidArgument('offsets', `offsets must be an array of 1 to ${MAX_COMMIT_OFFSETS} entries`);
    }
    const offsets = request.offsets.map((o, i) => {
      if (typeof o !== 'object' || o === null)
        throw new InvalidArgument(`offsets[${i}]`, 'each offset is { topic, partition, offset, metadata? }');
      validateTopicName(o.topic);
      boundedInteger(`offsets[${i}].partition`, o.partition, undefined, 0, 100_000);
      boundedInteger(`offsets[${i}].offset`, o.offset, undefined, 0, Number.MAX_SAFE_INTEGER);
      if (o.metadata !== undefined && (typeof o.metadata !== 'string' || o.metadata.length > MAX_METADATA_CHARS)) {
        throw new InvalidArgument(
          `offsets[${i}].metadata`,
          `metadata must be a string of at most ${MAX_METADATA_CHARS} characters`,
        );
      }
      return {
        key: tp(o.topic, o.partition),
        offset: o.offset,
        ...(o.metadata === undefined ? {} : { metadata: o.metadata }),
      };
    });
    if (new Set(offsets.map((o) => o.key)).size !== offsets.length)
      throw new InvalidArgument('offsets', 'each partition may appear once per commit');
    const ids = await this.sluice.topicIds(offsets.map((o) => parseTp(o.key).topic));
    for (const o of offsets) if (!ids.has(parseTp(o.key).topic)) throw new TopicNotFound(parseTp(o.key).topic);
    const withIds = offsets.map((o) => ({ ...o, topicId: ids.get(parseTp(o.key).topic)! }));
    return { memberId: request.memberId, generation: request.generation, offsets: withIds };
  }

  /** Why the store refused a commit, as the error `commit` throws. */
  private async commitRejection(
    group: string,
    request: CommitRequest,
    result: Exclude<CommitResult, { outcome: 'ok' }>,
  ): Promise<SluiceError> {
    if (result.reason === 'member')
      return new FencedMember(
        group,
        request.memberId,
        request.generation,
        (await this.store.loadMember(group, request.memberId, { positions: false })).meta?.generation ?? 0,
        'its session has ended or it left the group',
      );
    if (result.reason === 'group') {
      const current =
        (await this.store.loadMember(group, request.memberId, { positions: false })).meta?.generation ?? 0;
      return new FencedMember(
        group,
        request.memberId,
        request.generation,
        current,
        `generation ${request.generation} is not the current ${current}; heartbeat to learn it`,
      );
    }
    const { topic, partition } = parseTp(result.key);
    const p = (await this.store.loadPartitions(group, [result.key]))[result.key];
    if (p?.owner !== request.memberId) return new NotAssigned(group, request.memberId, topic, partition);
    return new OffsetRegression(
      topic,
      partition,
      request.offsets.find((o) => o.key === result.key)!.offset,
      p.committed?.offset ?? 0,
    );
  }

  async listGroups(): Promise<
    { group: string; state: GroupDescription['state']; generation: number; members: number }[]
  > {
    const names = await this.store.listGroups();
    return Promise.all(
      names.map(async (group) => {
        const snapshot = await this.reconciled(group, { partitions: true });
        return {
          group,
          state: stateOf(snapshot, this.now()),
          generation: snapshot.meta?.generation ?? 0,
          members: liveMembers(snapshot, this.now()).length,
        };
      }),
    );
  }

  /** State, members with their partitions, and per partition the committed offset, high watermark and lag. */
  async describe(group: string): Promise<GroupDescription> {
    validateGroup(group);
    const snapshot = await this.reconciled(group, { partitions: true });
    const meta = snapshot.meta;
    if (meta === undefined) throw new GroupNotFound(group);
    const now = this.now();
    const live = liveMembers(snapshot, now);
    const committed = await this.currentOffsets(snapshot.partitions);
    const keys = new Set<string>(Object.keys(committed));
    const counts = await this.sluice.partitionCounts(subscribedTopics(live.map((id) => snapshot.members[id]!.info)));
    for (const [topic, n] of Object.entries(counts)) for (let p = 0; p < n; p++) keys.add(tp(topic, p));
    // A bounded number in flight: a group of thousands of partitions must not flood the table.
    const offsets = (
      await mapWithLimit(
        [...keys].sort(comparePartitions),
        DESCRIBE_CONCURRENCY,
        async (key): Promise<PartitionLag | undefined> => {
          const { topic, partition } = parseTp(key);
          try {
            const [highWatermark, logStart] = await Promise.all([
              this.sluice.offsetFor(topic, partition, 'latest'),
              this.sluice.offsetFor(topic, partition, 'earliest'),
            ]);
            const c = committed[key];
            return {
              topic,
              partition,
              committed: c?.offset ?? null,
              metadata: c?.metadata ?? null,
              highWatermark,
              lag: Math.max(0, highWatermark - Math.max(c?.offset ?? logStart, logStart)),
            };
          } catch (e) {
            if (isSluiceError(e, 'TopicNotFound') || isSluiceError(e, 'PartitionNotFound')) return undefined; // offsets of a deleted topic
            throw e;
          }
        },
      )
    ).filter((x): x is PartitionLag => x !== undefined);
    const owned = ownersOf(snapshot, now);
    const members = [...live].sort().map((memberId) => {
      const m = snapshot.members[memberId]!;
      return {
        memberId,
        instanceId: m.info.instanceId ?? null,
        topics: m.info.topics,
        assignments: (owned.get(memberId) ?? []).sort().map(parseTp),
        target: [...(snapshot.targets[memberId] ?? [])].map(parseTp),
        sessionExpiresAt: snapshot.sessions[memberId] ?? 0,
      };
    });
    return {
      group,
      state: stateOf(snapshot, now),
      generation: meta.generation,
      assignor: meta.assignor,
      members,
      offsets,
      totalLag: offsets.reduce((n, o) => n + o.lag, 0),
    };
  }

  /** Moves a group's committed offsets for a topic, only while the group has no live members. */
  async resetOffsets(
    group: string,
    topic: string,
    to: OffsetSpec | { offset: number },
  ): Promise<{ topic: string; partition: number; offset: number }[]> {
    validateGroup(group);
    validateTopicName(topic);
    const ids = await this.sluice.topicIds([topic]);
    const counts = await this.sluice.partitionCounts([topic]);
    if (!ids.has(topic) || !Object.hasOwn(counts, topic)) throw new TopicNotFound(topic);
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const snapshot = await this.reconciled(group);
      const meta = snapshot.meta;
      const live = liveMembers(snapshot, this.now()).length;
      if (live > 0) throw new GroupNotEmpty(group, live, 'reset the offsets of');
      const now = this.now();
      const offsets: CommittedOffset[] = [];
      for (let partition = 0; partition < counts[topic]!; partition++) {
        offsets.push({
          key: tp(topic, partition),
          topicId: ids.get(topic)!,
          offset: await this.resolveOffset(topic, partition, to),
          committedAt: now,
          generation: meta?.generation ?? 0,
        });
      }
      if (await this.store.resetOffsets(group, meta?.version ?? 0, offsets))
        return offsets.map((o) => ({ ...parseTp(o.key), offset: o.offset }));
    }
    throw new GroupContention(group);
  }

  async deleteGroup(group: string): Promise<void> {
    validateGroup(group);
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const snapshot = await this.reconciled(group, { partitions: true });
      const meta = snapshot.meta;
      if (meta === undefined) throw new GroupNotFound(group);
      const live = liveMembers(snapshot, this.now()).length;
      if (live > 0) throw new GroupNotEmpty(group, live, 'delete');
      if (await this.store.deleteGroup(group, meta.version, snapshot)) return;
    }
    throw new GroupContention(group);
  }

  // ---------------------------------------------------------------- internals

  private async resolveOffset(topic: string, partition: number, to: OffsetSpec | { offset: number }): Promise<number> {
    if (typeof to === 'object' && to !== null && 'offset' in to) {
      const offset = boundedInteger('to.offset', to.offset, undefined, 0, Number.MAX_SAFE_INTEGER);
      const [start, end] = await Promise.all([
        this.sluice.offsetFor(topic, partition, 'earliest'),
        this.sluice.offsetFor(topic, partition, 'latest'),
      ]);
      return Math.min(Math.max(offset, start), end); // clamped to the log, as Kafka's reset tool does
    }
    if (to !== 'earliest' && to !== 'latest' && (typeof to !== 'object' || to === null || !('timestamp' in to))) {
      throw new InvalidArgument('to', 'to must be "earliest", "latest", { timestamp } or { offset }');
    }
    return this.sluice.offsetFor(topic, partition, to);
  }

  private async resetPosition(group: string, key: string, how: MemberInfo['autoOffsetReset']): Promise<number> {
    const { topic, partition } = parseTp(key);
    if (how === 'error') throw new NoCommittedOffset(group, topic, partition);
    return this.sluice.offsetFor(topic, partition, how);
  }

  private async fetch(
    group: string,
    keys: readonly string[],
    positions: Map<string, number>,
    reset: MemberInfo['autoOffsetReset'],
    maxRecords: number,
    maxBytes: number,
    measure: ((record: GroupRecord) => number) | undefined,
    isolation: Isolation,
  ): Promise<GroupRecord[]> {
    if (keys.length === 0) return [];
    const start = Math.floor(Math.random() * keys.length); // rotate so no partition starves the others
    const order = keys.map((_, i) => keys[(start + i) % keys.length]!);
    // One budget for the whole response (a Lambda response is at most 6 MB), shared by its
    // partitions; none may go over its share, so the sum stays within the budget.
    const share = {
      maxRecords: Math.max(1, Math.ceil(maxRecords / order.length)),
      maxBytes: Math.max(1, Math.floor(maxBytes / order.length)),
      atLeastOne: false,
      isolation,
    };
    const read = async (key: string, budget: ReadOptions) => {
      const { topic, partition } = parseTp(key);
      const options = {
        ...budget,
        ...(measure === undefined ? {} : { measure: (r: ConsumerRecord) => measure({ ...r, topic, partition }) }),
      };
      const at = async () => {
        const result = await this.sluice.read(topic, partition, positions.get(key)!, options);
        // Past what holds no record for this reader (markers, aborted transactions, gaps filled).
        if (result.records.length === 0 && result.nextOffset > positions.get(key)!)
          positions.set(key, result.nextOffset);
        return {
          records: result.records.map((r) => ({ ...r, topic, partition })),
          more: result.lastStableOffset ?? result.highWatermark,
        };
      };
      try {
        return await at();
      } catch (e) {
        if (!isSluiceError(e, 'OffsetOutOfRange')) throw e;
        // Below the log start (retention) or past the end (a re-created topic): reset, then read from there.
        positions.set(key, await this.resetPosition(group, key, reset));
        return at();
      }
    };
    // The first partition of this poll's rotation reads first, and returns its first record whatever
    // its size (Kafka's fetch): each partition is first in turn, so none waits long behind a large
    // record. The others share what budget it left, so the response stays within the budget.
    const [head, ...rest] = order;
    const first = await read(head!, { ...share, atLeastOne: true });
    const used = measure === undefined ? share.maxBytes : first.records.reduce((n, r) => n + measure(r), 0);
    const left = Math.floor((maxBytes - Math.max(share.maxBytes, used)) / Math.max(1, rest.length));
    const others =
      left >= 1
        ? await Promise.all(rest.map((key) => read(key, { ...share, maxBytes: left })))
        : rest.map(() => ({ records: [] as GroupRecord[], more: Number.POSITIVE_INFINITY }));
    const pages = [first, ...others];
    const records = pages.flatMap((p) => p.records).slice(0, maxRecords);
    if (records.length > 0) return records;
    // Nothing fitted a share: the first partition with records gets the whole budget, and its
    // first record even when that alone is larger (never a consumer stuck behind a large record).
    const waiting = order.findIndex((key, i) => pages[i]!.more > positions.get(key)!);
    if (waiting === -1) return [];
    return (await read(order[waiting]!, { ...share, maxRecords, maxBytes, atLeastOne: true })).records;
  }

  /** Committed offsets that belong to the current incarnation of their topic. */
  private async currentOffsets(
    partitions: Readonly<Record<string, GroupPartition>>,
  ): Promise<Record<string, CommittedOffset>> {
    const ids = await this.sluice.topicIds(Object.keys(partitions).map((k) => parseTp(k).topic));
    const out = Object.create(null) as Record<string, CommittedOffset>;
    for (const [key, p] of Object.entries(partitions))
      if (p.committed !== undefined && ids.get(parseTp(key).topic) === p.committed.topicId) out[key] = p.committed;
    return out;
  }

  /** The committed offsets of some partitions (a member's own), read by key. */
  private async committedOffsets(group: string, keys: readonly string[]): Promise<Record<string, CommittedOffset>> {
    return this.currentOffsets(await this.store.loadPartitions(group, keys));
  }

  /**
   * One member's call: reads the meta and the member's own items (and its target when the
   * assignment changed), notices what needs a rebalance, and takes a step towards the target
   * (claims, releases, revocations), each a conditional write. Nothing here reads other members'
   * state beyond the sessions of the owners of partitions it is waiting for, so its cost does not
   * grow with the group.
   */
  private async step(
    group: string,
    memberId: string,
    releases: readonly string[],
    withPositions: boolean,
    joined?: Joined,
  ) {
    let missing: string | undefined;
    let extended = false; // by a transfer of this call
    // Only failed attempts count: a step too large for one transaction goes on in the next.
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS;) {
      // A join's first step starts from what its rebalance wrote (a transfer on a changed meta fails).
      const fresh = joined;
      joined = undefined;
      const read = fresh ?? (await this.store.loadMember(group, memberId, { positions: withPositions }));
      const now = this.now();
      const { meta, member } = read;
      if (meta === undefined || member === undefined || read.expiresAt === undefined)
        throw new UnknownMember(group, memberId);
      if (read.expiresAt <= now) throw await this.ended(group, memberId);
      let target = fresh?.target ?? member.target;
      if (fresh === undefined && member.assignment !== meta.assignment) {
        const loaded = await this.store.loadTarget(group, meta.assignment, memberId);
        if (loaded === undefined) {
          // Not in the current assignment: removed, or the assignment was replaced since the read.
          if (missing === meta.assignment) throw new UnknownMember(group, memberId);
          missing = meta.assignment;
          attempt++;
          continue;
        }
        target = loaded;
      }
      // The join's rebalance has just counted the partitions and ended expired sessions.
      if (fresh === undefined && (await this.noticed(group, memberId, meta, member, now))) {
        // The rebalance is work for the group done in this member's call: its session must not
        // run out meanwhile (the call extends it only when it ends).
        const [, live] = await Promise.all([this.rebalance(group, {}), this.touch(group, member)]);
        if (!live) throw await this.ended(group, memberId);
        attempt++;
        continue;
      }
      const waiting = target.filter((key) => !Object.hasOwn(member.owned, key));
      const partitions = waiting.length > 0 ? await this.store.loadPartitions(group, waiting) : {};
      const owners = [...new Set(Object.values(partitions).flatMap((p) => (p.owner === undefined ? [] : [p.owner])))];
      const others = owners.filter((id) => id !== memberId);
      const sessions = others.length > 0 ? await this.store.loadSessions(group, others) : {};
      const { plan, rest } = fit(planMember(member, target, partitions, sessions, now, releases));
      const next = applyPlan(member, meta.assignment, target, plan);
      const idle =
        plan.claims.length + plan.marks.length + plan.releases.length + plan.clears.length === 0 &&
        member.assignment === meta.assignment;
      if (!idle) {
        const expiresAt = this.now() + member.info.sessionTimeoutMs;
        const change = { memberId, assignment: meta.assignment, now, expiresAt, member: next, ...plan };
        if (!(await this.store.transfer(group, change))) {
          await backoff(attempt++);
          continue;
        }
        extended = true;
      }
      if (rest) continue; // more than one transaction holds: the next step goes on from what is stored
      return { meta, member: next, target, view: view(meta, next, target), positions: read.positions, extended };
    }
    throw new GroupContention(group);
  }

  /**
   * What a member's call notices without reading the group: a partition count of its own topics
   * that differs from the assignment's, or an ended session of the member after it in id order.
   */
  private async noticed(group: string, memberId: string, meta: GroupMeta, member: MemberState, now: number) {
    const [counts, next] = await Promise.all([
      this.sluice.partitionCounts(member.info.topics),
      this.store.nextSession(group, memberId),
    ]);
    for (const topic of member.info.topics) {
      const assigned = Object.hasOwn(meta.counts, topic) ? meta.counts[topic] : undefined;
      if (counts[topic] !== assigned) return true;
    }
    return next !== undefined && next.expiresAt <= now;
  }

  /** Extends a member's session from now; false if it has ended. */
  private touch(group: string, member: MemberState): Promise<boolean> {
    return this.store.touchMember(group, member.memberId, this.now() + member.info.sessionTimeoutMs, this.now());
  }

  /** A member whose session has ended: whatever else its ending changes is saved; the error to throw. */
  private async ended(group: string, memberId: string): Promise<UnknownMember> {
    await this.rebalance(group, {});
    return new UnknownMember(group, memberId);
  }

  /** The group after removing ended sessions and stale items (and rebalancing if that changed it). */
  private async reconciled(group: string, options: { partitions?: boolean } = {}): Promise<GroupSnapshot> {
    return (await this.rebalance(group, {}, { ...options, snapshot: true })).snapshot!;
  }

  /**
   * The optimistic-concurrency loop of every rebalance: read the whole group, apply the join or
   * leave, end expired sessions, recompute the targets, and publish them (targets first, then the
   * meta if its version is still the one read); otherwise read again. Without a change it only
   * does what it notices. With `snapshot`, it returns the group as read once there is nothing left
   * to do (so a write is followed by another read); without, it returns after its write unless
   * some ended sessions did not fit in it: a member's call that noticed an ended session, a leave
   * or a join need not pay for reading the whole group twice.
   */
  private async rebalance(
    group: string,
    change: { join?: { memberId: string; request: ValidJoin }; leave?: string },
    options: { partitions?: boolean; snapshot?: boolean } = {},
  ): Promise<{ snapshot?: GroupSnapshot; joined?: Joined }> {
    let joined: Joined | undefined;
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const snapshot = await this.store.loadGroup(group, options);
      const now = this.now();
      const stored = snapshot.meta;
      const live = liveMembers(snapshot, now);
      const members: Record<string, MemberInfo> = Object.create(null);
      for (const id of live) members[id] = snapshot.members[id]!.info;
      const previous: Record<string, readonly string[]> = { ...snapshot.targets };
      const ended = Object.keys(snapshot.sessions).filter((id) => !live.includes(id));
      const ends: Rebalance['ends'][number][] = ended.map((memberId) => ({ memberId, ifExpiredAt: now }));
      const orphans = Object.keys(snapshot.members).filter((id) => !Object.hasOwn(snapshot.sessions, id));
      let assignor = stored?.assignor;
      let join: Rebalance['join'];
      let replaced = false;
      if (change.leave !== undefined) {
        if (!Object.hasOwn(members, change.leave)) {
          await this.rebalance(group, {});
          throw new UnknownMember(group, change.leave);
        }
        delete members[change.leave];
        ends.push({ memberId: change.leave });
      }
      if (change.join !== undefined) {
        const { memberId, request } = change.join;
        if (live.length > 0 && stored !== undefined && stored.assignor !== request.assignor)
          throw new InconsistentAssignor(group, stored.assignor, request.assignor);
        if (live.length === 0) assignor = request.assignor;
        const info: MemberInfo = {
          ...(request.instanceId === undefined ? {} : { instanceId: request.instanceId }),
          topics: request.topics,
          sessionTimeoutMs: request.sessionTimeoutMs,
          rebalanceTimeoutMs: request.rebalanceTimeoutMs,
          autoOffsetReset: request.autoOffsetReset,
          joinedAt: now,
        };
        const instanceId = request.instanceId;
        const before = live.find((id) => instanceId !== undefined && members[id]!.instanceId === instanceId);
        if (before !== undefined) {
          // A static member back within its session: the new id takes the old one's target and,
          // with its claims, its partitions; with the same subscription the group does not rebalance.
          replaced = sameSubscription(members[before]!.topics, request.topics);
          if (replaced) previous[memberId] = previous[before] ?? [];
          delete members[before];
          ends.push({ memberId: before });
        }
        members[memberId] = info;
        // A new incarnation (static or not) resumes from committed offsets, as a restarted Kafka consumer does.
        join = {
          member: { memberId, info, owned: {}, assignment: '', target: [] },
          expiresAt: now + request.sessionTimeoutMs,
        };
      }
      if (assignor === undefined) return { snapshot }; // no group, and nothing to create
      const counts = await this.sluice.partitionCounts(subscribedTopics(Object.values(members)));
      const current = Object.fromEntries(live.map((id) => [id, snapshot.targets[id] ?? []]));
      const targets =
        replaced && ended.length === 0 && sameCounts(counts, stored?.counts)
          ? Object.fromEntries(Object.keys(members).map((id) => [id, previous[id] ?? []]))
          : targetsFor(assignor, members, previous, counts);
      const membersChanged = change.join !== undefined ? !replaced : change.leave !== undefined;
      const rebalanced = membersChanged || covered(targets) !== covered(current) || stored === undefined;
      const work =
        change.join !== undefined ||
        change.leave !== undefined ||
        rebalanced ||
        ends.length > 0 ||
        !sameCounts(counts, stored?.counts) ||
        Object.keys(snapshot.targets).some((id) => !Object.hasOwn(members, id));
      if (!work) {
        if (orphans.length > 0 || snapshot.staleAssignments.length > 0)
          await this.store.removeStale(group, stored.version, {
            members: orphans,
            assignments: snapshot.staleAssignments,
          });
        return { snapshot, ...(joined === undefined ? {} : { joined }) };
      }
      const version = (stored?.version ?? 0) + 1;
      const base = stored ?? emptyGroup(group, assignor, now);
      const meta: GroupMeta = {
        ...base,
        version,
        generation: base.generation + (rebalanced ? 1 : 0),
        assignor,
        assignment: assignmentId(version, randomUUID().slice(0, 8)),
        counts,
      };
      const capped = ends.slice(0, MAX_MEMBER_CHANGES); // more ended sessions go in the next write
      if (
        await this.store.saveRebalance(group, { meta, targets, ...(join === undefined ? {} : { join }), ends: capped })
      ) {
        await this.store.removeStale(group, version, {
          members: [...orphans, ...capped.map((e) => e.memberId)],
          assignments: [...snapshot.staleAssignments, ...(base.assignment === '' ? [] : [base.assignment])],
          // The replaced assignment's targets were all read with the group.
          known: { [base.assignment]: Object.keys(snapshot.targets) },
        });
        if (join !== undefined)
          joined = {
            meta,
            member: join.member,
            expiresAt: join.expiresAt,
            positions: {},
            target: targets[join.member.memberId] ?? [],
          };
        change = {};
        if (options.snapshot !== true && ends.length <= capped.length) return joined === undefined ? {} : { joined };
        continue;
      }
      await backoff(attempt);
    }
    throw new GroupContention(group);
  }
}

type ValidJoin = ReturnType<typeof validateJoin>;

/** What a join's rebalance wrote for the new member: its first step need not read it back. */
interface Joined {
  readonly meta: GroupMeta;
  readonly member: MemberState;
  readonly expiresAt: number;
  readonly positions: Readonly<Record<string, number>>;
  readonly target: readonly string[];
}

async function backoff(attempt: number): Promise<void> {
  await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 5 * 2 ** attempt)));
}

/**
 * As much of a member's plan as one transaction holds (releases first, so partitions free up for
 * others soonest); `rest` says whether some was left for the next step.
 */
function fit(plan: MemberPlan): { plan: MemberPlan; rest: boolean } {
  let budget = MAX_STEP_ITEMS;
  const take = <T>(items: readonly T[]): T[] => {
    const n = Math.max(0, Math.min(items.length, budget));
    budget -= n;
    return items.slice(0, n);
  };
  const releases = take(plan.releases);
  const clears = take(plan.clears);
  // A claim writes its partition, and checks or writes its previous owner's item once per owner.
  const owners = new Set<string>();
  const claims: MemberPlan['claims'][number][] = [];
  for (const c of plan.claims) {
    const owner = c.from === undefined || owners.has(c.from.owner) ? undefined : c.from.owner;
    const cost = owner === undefined ? 1 : 2;
    if (cost > budget) break;
    budget -= cost;
    if (owner !== undefined) owners.add(owner);
    claims.push(c);
  }
  const marks = take(plan.marks);
  const rest =
    releases.length + clears.length + claims.length + marks.length <
    plan.releases.length + plan.clears.length + plan.claims.length + plan.marks.length;
  return { plan: { releases, clears, claims, marks }, rest };
}

function keysOf(partitions: readonly TopicPartition[] | undefined): string[] {
  return (partitions ?? []).map((r) => tp(r.topic, r.partition));
}

function sameCounts(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>> | undefined): boolean {
  const entries = (c: Readonly<Record<string, number>>) => JSON.stringify(Object.entries(c).sort());
  return b !== undefined && entries(a) === entries(b);
}

/** Members in the group: an item and a session that has not ended. */
function liveMembers(snapshot: GroupSnapshot, now: number): string[] {
  return Object.keys(snapshot.members)
    .filter((id) => Object.hasOwn(snapshot.sessions, id) && snapshot.sessions[id]! > now)
    .sort();
}

/** Member → the partitions it owns: those recorded as its own while its session lasts. */
function ownersOf(snapshot: GroupSnapshot, now: number): Map<string, string[]> {
  const live = new Set(liveMembers(snapshot, now));
  const out = new Map<string, string[]>();
  for (const [key, p] of Object.entries(snapshot.partitions))
    if (p.owner !== undefined && live.has(p.owner)) out.set(p.owner, [...(out.get(p.owner) ?? []), key]);
  return out;
}

const MEMBER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Member ids are the UUIDs joins hand out; anything else is no member (and never a prototype key). */
function validateMemberId(group: string, memberId: unknown): asserts memberId is string {
  if (typeof memberId !== 'string' || !MEMBER_ID.test(memberId))
    throw new UnknownMember(group, String(memberId).slice(0, 64));
}

function view(meta: GroupMeta, member: MemberState, target: readonly string[]): MembershipView {
  const revoking = revokingFrom(member, target);
  return {
    memberId: member.memberId,
    generation: meta.generation,
    assignments: Object.keys(member.owned)
      .filter((key) => !revoking.includes(key))
      .sort()
      .map(parseTp),
    revoking: revoking.map(parseTp),
  };
}

function stateOf(snapshot: GroupSnapshot, now: number): GroupDescription['state'] {
  const live = liveMembers(snapshot, now);
  if (snapshot.meta === undefined || live.length === 0) return 'Empty';
  const owned = ownersOf(snapshot, now);
  for (const id of live) {
    const mine = [...(owned.get(id) ?? [])].sort().join(',');
    if (mine !== [...(snapshot.targets[id] ?? [])].sort().join(',')) return 'Rebalancing';
  }
  return 'Stable';
}

const GROUP_NAME = /^[A-Za-z0-9._-]{1,249}$/;

function validateGroup(group: unknown): asserts group is string {
  if (typeof group !== 'string' || !GROUP_NAME.test(group)) {
    throw new InvalidArgument('group', 'group names are 1 to 249 characters from A-Z, a-z, 0-9, ".", "_" and "-"');
  }
}

function validateJoin(options: JoinOptions): Required<Omit<JoinOptions, 'instanceId'>> & { instanceId?: string } {
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgument('body', 'join takes { topics, instanceId?, sessionTimeoutMs?, assignor? }');
  if (!Array.isArray(options.topics) || options.topics.length === 0 || options.topics.length > 100) {
    throw new InvalidArgument('topics', 'topics must be an array of 1 to 100 topic names');
  }
  options.topics.forEach((t) => validateTopicName(t));
  if (
    options.instanceId !== undefined &&
    (typeof options.instanceId !== 'string' || !GROUP_NAME.test(options.instanceId))
  ) {
    throw new InvalidArgument(
      'instanceId',
      'instanceId must be 1 to 249 characters from A-Z, a-z, 0-9, ".", "_" and "-"',
    );
  }
  const sessionTimeoutMs = boundedInteger(
    'sessionTimeoutMs',
    options.sessionTimeoutMs,
    DEFAULTS.sessionTimeoutMs,
    ...SESSION_TIMEOUT_RANGE,
  );
  const rebalanceTimeoutMs = boundedInteger(
    'rebalanceTimeoutMs',
    options.rebalanceTimeoutMs,
    sessionTimeoutMs,
    0,
    600_000,
  );
  const assignor = options.assignor ?? DEFAULTS.assignor;
  if (!ASSIGNORS.includes(assignor))
    throw new InvalidArgument('assignor', `assignor must be one of ${ASSIGNORS.join(', ')}`);
  const autoOffsetReset = options.autoOffsetReset ?? DEFAULTS.autoOffsetReset;
  if (!['earliest', 'latest', 'error'].includes(autoOffsetReset))
    throw new InvalidArgument('autoOffsetReset', 'autoOffsetReset must be earliest, latest or error');
  return {
    topics: [...new Set(options.topics)].sort(),
    ...(options.instanceId === undefined ? {} : { instanceId: options.instanceId }),
    sessionTimeoutMs,
    rebalanceTimeoutMs,
    assignor,
    autoOffsetReset,
  };
}

function boundedInteger(name: string, value: unknown, fallback: number | undefined, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
    throw new InvalidArgument(name, `${name} must be an integer from ${min} to ${max}`);
  return v as number;
}
