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
} from '../errors.ts';
import type { ConsumerRecord } from '../log/records.ts';
import { MAX_READ_BYTES, type OffsetSpec, type ReadOptions, type Sluice } from '../log/sluice.ts';
import { validateTopicName } from '../log/topicConfig.ts';
import { ASSIGNORS, comparePartitions, parseTp, tp, type AssignorName } from './assignors.ts';
import {
  MAX_COMMIT_OFFSETS,
  MAX_MEMBER_CHANGES,
  type CommittedOffset,
  type GroupSnapshot,
  type GroupStore,
  type MemberDelete,
  type MemberLiveness,
} from './groupStore.ts';
import {
  emptyGroup,
  join,
  leave,
  ownedBy,
  positionKey,
  reconcile,
  release,
  revokingFrom,
  subscribedTopics,
  type GroupMeta,
  type MemberInfo,
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
  /** A record's size as the caller sends it, so `maxBytes` bounds the response (see `ReadOptions.measure`). */
  readonly measure?: (record: GroupRecord) => number;
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

/**
 * Kafka's consumer groups without a broker. All coordination state is in the metadata table and
 * every change is a conditional write; there is no background process: expired members are
 * removed by whichever call notices first (a join, heartbeat, poll, commit check or describe).
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
    const assignor = request.assignor;
    const meta = await this.update(group, request.topics, (snapshot, current, now, counts) => {
      const base = current ?? emptyGroup(group, assignor, now);
      if (base.assignor !== assignor && Object.keys(base.members).length > 0)
        throw new InconsistentAssignor(group, base.assignor, assignor);
      const info: MemberInfo = {
        ...(request.instanceId === undefined ? {} : { instanceId: request.instanceId }),
        topics: request.topics,
        sessionTimeoutMs: request.sessionTimeoutMs,
        rebalanceTimeoutMs: request.rebalanceTimeoutMs,
        autoOffsetReset: request.autoOffsetReset,
        joinedAt: now,
      };
      const joined = join(
        { ...base, assignor: Object.keys(base.members).length === 0 ? assignor : base.assignor },
        { memberId, info },
        counts,
      );
      const replaced = joined.replaced;
      // A new incarnation (static or not) resumes from committed offsets, as a restarted Kafka consumer does.
      return {
        meta: joined.meta,
        putMembers: [{ memberId, expiresAt: now + request.sessionTimeoutMs, positions: {} }],
        deleteMembers: replaced === undefined ? [] : [{ memberId: replaced }],
      };
    });
    return view(meta, memberId);
  }

  async heartbeat(
    group: string,
    memberId: string,
    options: { release?: readonly TopicPartition[] } = {},
  ): Promise<MembershipView> {
    const { meta, info } = await this.memberUpdate(group, memberId, options.release ?? []);
    if (!(await this.store.touchMember(group, memberId, this.now() + info.sessionTimeoutMs)))
      throw new UnknownMember(group, memberId);
    return view(meta, memberId);
  }

  async leave(group: string, memberId: string): Promise<void> {
    validateGroup(group);
    validateMemberId(group, memberId);
    await this.update(group, [], (_snapshot, current) => {
      if (current === undefined || !Object.hasOwn(current.members, memberId)) throw new UnknownMember(group, memberId);
      return { meta: current, deleteMembers: [{ memberId }], apply: (m, counts) => leave(m, memberId, counts) };
    });
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
    const { meta, info, snapshot } = await this.memberUpdate(group, memberId, options.release ?? []);
    const mine = new Set(ownedBy(meta, memberId)); // including partitions being revoked
    const paused = new Set((options.paused ?? []).map((p) => tp(p.topic, p.partition)).filter((key) => mine.has(key)));
    const revoking = new Set(revokingFrom(meta, memberId));
    const fetched = [...mine].filter((key) => !paused.has(key) && !revoking.has(key));
    // Positions are stored under the partition's grant count: one from an earlier ownership is stale.
    const stored = snapshot.members[memberId]?.positions ?? {};
    const positions = new Map<string, number>();
    for (const key of mine) {
      const position = stored[positionKey(meta, key)];
      if (position !== undefined) positions.set(key, position);
    }
    for (const s of options.seek ?? []) {
      const key = tp(s.topic, s.partition);
      if (!mine.has(key)) throw new NotAssigned(group, memberId, s.topic, s.partition);
      positions.set(key, boundedInteger('seek.offset', s.offset, undefined, 0, Number.MAX_SAFE_INTEGER));
    }
    const extendSession = (withPositions?: Record<string, number>) =>
      this.store.touchMember(group, memberId, this.now() + info.sessionTimeoutMs, withPositions);
    let records: GroupRecord[];
    try {
      const committed = fetched.some((key) => !positions.has(key)) ? await this.currentOffsets(snapshot) : {};
      for (const key of fetched) {
        if (!positions.has(key))
          positions.set(key, committed[key]?.offset ?? (await this.resetPosition(group, key, info.autoOffsetReset)));
      }
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
    for (const [key, offset] of positions) next[positionKey(meta, key)] = offset;
    if (!(await extendSession(next))) throw new UnknownMember(group, memberId);
    return { ...view(meta, memberId), records };
  }

  /** Commits offsets (the next offset to read, as in Kafka), fenced by owner and generation. */
  async commit(group: string, request: CommitOffsets): Promise<void> {
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
    const result = await this.store.commitOffsets(
      group,
      { memberId: request.memberId, generation: request.generation, offsets: withIds },
      this.now(),
    );
    if (result.outcome === 'ok') return;
    const snapshot = await this.store.loadGroup(group);
    const current = snapshot.meta?.generation ?? 0;
    if (result.reason === 'regression') {
      const { topic, partition } = parseTp(result.key);
      throw new OffsetRegression(
        topic,
        partition,
        offsets.find((o) => o.key === result.key)!.offset,
        snapshot.offsets[result.key]?.offset ?? 0,
      );
    }
    if (
      result.reason === 'member' ||
      snapshot.meta === undefined ||
      !Object.hasOwn(snapshot.meta.members, request.memberId)
    ) {
      throw new FencedMember(
        group,
        request.memberId,
        request.generation,
        current,
        'its session has ended or it left the group',
      );
    }
    if (request.generation !== current) {
      throw new FencedMember(
        group,
        request.memberId,
        request.generation,
        current,
        `generation ${request.generation} is not the current ${current}; heartbeat to learn it`,
      );
    }
    const notOwned = offsets.find((o) => snapshot.meta!.owners[o.key] !== request.memberId) ?? offsets[0]!;
    const { topic, partition } = parseTp(notOwned.key);
    throw new NotAssigned(group, request.memberId, topic, partition);
  }

  async listGroups(): Promise<
    { group: string; state: GroupDescription['state']; generation: number; members: number }[]
  > {
    const names = await this.store.listGroups();
    return Promise.all(
      names.map(async (group) => {
        const { meta } = await this.reconciled(group);
        return {
          group,
          state: stateOf(meta),
          generation: meta?.generation ?? 0,
          members: Object.keys(meta?.members ?? {}).length,
        };
      }),
    );
  }

  /** State, members with their partitions, and per partition the committed offset, high watermark and lag. */
  async describe(group: string): Promise<GroupDescription> {
    validateGroup(group);
    const { meta, snapshot } = await this.reconciled(group);
    if (meta === undefined) throw new GroupNotFound(group);
    const committed = await this.currentOffsets(snapshot);
    const keys = new Set<string>(Object.keys(committed));
    const counts = await this.sluice.partitionCounts(subscribedTopics(meta));
    for (const [topic, n] of Object.entries(counts)) for (let p = 0; p < n; p++) keys.add(tp(topic, p));
    const offsets = (
      await Promise.all(
        [...keys].sort(comparePartitions).map(async (key): Promise<PartitionLag | undefined> => {
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
        }),
      )
    ).filter((x): x is PartitionLag => x !== undefined);
    const members = Object.entries(meta.members)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([memberId, m]) => ({
        memberId,
        instanceId: m.instanceId ?? null,
        topics: m.topics,
        assignments: ownedBy(meta, memberId).map(parseTp),
        target: [...(meta.target[memberId] ?? [])].map(parseTp),
        sessionExpiresAt: snapshot.members[memberId]?.expiresAt ?? 0,
      }));
    return {
      group,
      state: stateOf(meta),
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
      const { meta } = await this.reconciled(group);
      const live = Object.keys(meta?.members ?? {}).length;
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
      const { meta, snapshot } = await this.reconciled(group);
      if (meta === undefined) throw new GroupNotFound(group);
      const live = Object.keys(meta.members).length;
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
    };
    const read = async (key: string, budget: ReadOptions) => {
      const { topic, partition } = parseTp(key);
      const options = {
        ...budget,
        ...(measure === undefined ? {} : { measure: (r: ConsumerRecord) => measure({ ...r, topic, partition }) }),
      };
      const at = async () => {
        const result = await this.sluice.read(topic, partition, positions.get(key)!, options);
        return { records: result.records.map((r) => ({ ...r, topic, partition })), more: result.highWatermark };
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
  private async currentOffsets(snapshot: GroupSnapshot): Promise<Record<string, CommittedOffset>> {
    const ids = await this.sluice.topicIds(Object.keys(snapshot.offsets).map((k) => parseTp(k).topic));
    const out = Object.create(null) as Record<string, CommittedOffset>;
    for (const [key, o] of Object.entries(snapshot.offsets))
      if (ids.get(parseTp(key).topic) === o.topicId) out[key] = o;
    return out;
  }

  /** Applies reconcile (and `release`) for a member, returning its view; the member must exist. */
  private async memberUpdate(group: string, memberId: string, releases: readonly TopicPartition[]) {
    validateGroup(group);
    validateMemberId(group, memberId);
    let snapshot: GroupSnapshot | undefined;
    const meta = await this.update(group, [], (snap, current) => {
      snapshot = snap;
      if (current === undefined || !Object.hasOwn(current.members, memberId)) throw new UnknownMember(group, memberId);
      if (releases.length === 0) return undefined;
      return {
        meta: release(
          current,
          memberId,
          releases.map((r) => tp(r.topic, r.partition)),
        ),
      };
    });
    const info = Object.hasOwn(meta.members, memberId) ? meta.members[memberId] : undefined;
    if (info === undefined) throw new UnknownMember(group, memberId); // expired in this very reconcile
    return { meta, info, snapshot: snapshot! };
  }

  private async reconciled(group: string): Promise<{ meta: GroupMeta | undefined; snapshot: GroupSnapshot }> {
    let snapshot: GroupSnapshot | undefined;
    const meta = await this.update(
      group,
      [],
      (snap) => {
        snapshot = snap;
        return undefined;
      },
      { allowMissing: true },
    );
    return { meta, snapshot: snapshot! };
  }

  /**
   * The optimistic-concurrency loop every change goes through: read the group, reconcile it at
   * now (expiring sessions, moving partitions), apply `change`, reconcile again, and write it only
   * if the stored version is still the one read; otherwise read again.
   */
  private async update<Missing extends boolean = false>(
    group: string,
    extraTopics: readonly string[],
    change: (
      snapshot: GroupSnapshot,
      current: GroupMeta | undefined,
      now: number,
      counts: Record<string, number>,
    ) =>
      | {
          meta: GroupMeta;
          putMembers?: MemberLiveness[];
          deleteMembers?: MemberDelete[];
          apply?: (m: GroupMeta, counts: Record<string, number>) => GroupMeta;
        }
      | undefined,
    options: { allowMissing?: Missing } = {},
  ): Promise<Missing extends true ? GroupMeta | undefined : GroupMeta> {
    for (let attempt = 0; attempt < MAX_UPDATE_ATTEMPTS; attempt++) {
      const snapshot = await this.store.loadGroup(group);
      const now = this.now();
      const stored = snapshot.meta;
      const liveness = Object.fromEntries(Object.values(snapshot.members).map((m) => [m.memberId, m.expiresAt]));
      // Every subscribed topic, so assignors see the whole group (and stay sticky across topics).
      const topics = [...new Set([...(stored === undefined ? [] : subscribedTopics(stored)), ...extraTopics])];
      const counts = await this.sluice.partitionCounts(topics);
      const first = stored === undefined ? undefined : reconcile(stored, liveness, now, counts);
      // Member items the meta no longer knows (expired earlier, beyond one write's limit) are removed too.
      const orphans =
        stored === undefined
          ? []
          : Object.keys(snapshot.members).filter(
              (id) => !Object.hasOwn(first!.meta.members, id) && !(first?.expired ?? []).includes(id),
            );
      let changed;
      try {
        changed = change(snapshot, first?.meta, now, counts);
      } catch (e) {
        // The call itself is refused, but what reconcile noticed (expiries, hand-overs) still counts.
        if (first?.changed) await this.save(stored, first.meta, [], this.expiryDeletes(first.expired, orphans, now));
        throw e;
      }
      if (changed === undefined && (first === undefined || !first.changed) && orphans.length === 0) {
        if (first === undefined && options.allowMissing !== true) throw new GroupNotFound(group);
        return first?.meta as GroupMeta;
      }
      let next = changed?.meta ?? first!.meta;
      if (changed?.apply !== undefined) next = changed.apply(next, counts);
      const newLiveness = { ...liveness };
      for (const m of changed?.putMembers ?? []) newLiveness[m.memberId] = m.expiresAt;
      for (const d of changed?.deleteMembers ?? []) delete newLiveness[d.memberId];
      next = reconcile(next, newLiveness, now, counts).meta;
      const deletes = [...(changed?.deleteMembers ?? []), ...this.expiryDeletes(first?.expired ?? [], orphans, now)];
      const saved = await this.save(stored, next, changed?.putMembers ?? [], deletes);
      if (saved !== undefined) return saved;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(100, 5 * 2 ** attempt)));
    }
    throw new GroupContention(group);
  }

  private expiryDeletes(expired: readonly string[], orphans: readonly string[], now: number): MemberDelete[] {
    return [
      ...expired.map((memberId) => ({ memberId, ifExpiredAt: now })),
      ...orphans.map((memberId) => ({ memberId })),
    ];
  }

  /** Writes the next meta (version + 1) with member changes, at most MAX_MEMBER_CHANGES of them. */
  private async save(
    stored: GroupMeta | undefined,
    next: GroupMeta,
    puts: MemberLiveness[],
    deletes: MemberDelete[],
  ): Promise<GroupMeta | undefined> {
    const capped = dedupeDeletes(deletes).slice(0, MAX_MEMBER_CHANGES - puts.length); // the rest go in a later write
    const meta = { ...next, version: (stored?.version ?? 0) + 1 };
    return (await this.store.saveGroup(meta, { putMembers: puts, deleteMembers: capped })) ? meta : undefined;
  }
}

const MEMBER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Member ids are the UUIDs joins hand out; anything else is no member (and never a prototype key). */
function validateMemberId(group: string, memberId: unknown): asserts memberId is string {
  if (typeof memberId !== 'string' || !MEMBER_ID.test(memberId))
    throw new UnknownMember(group, String(memberId).slice(0, 64));
}

function dedupeDeletes(deletes: MemberDelete[]): MemberDelete[] {
  const byId = new Map<string, MemberDelete>();
  for (const d of deletes) if (!byId.has(d.memberId) || d.ifExpiredAt === undefined) byId.set(d.memberId, d);
  return [...byId.values()];
}

function view(meta: GroupMeta, memberId: string): MembershipView {
  return {
    memberId,
    generation: meta.generation,
    assignments: ownedBy(meta, memberId)
      .filter((k) => !(k in meta.revoking))
      .map(parseTp),
    revoking: revokingFrom(meta, memberId).map(parseTp),
  };
}

function stateOf(meta: GroupMeta | undefined): GroupDescription['state'] {
  if (meta === undefined || Object.keys(meta.members).length === 0) return 'Empty';
  if (Object.keys(meta.revoking).length > 0) return 'Rebalancing';
  for (const [memberId, keys] of Object.entries(meta.target))
    for (const key of keys) if (meta.owners[key] !== memberId) return 'Rebalancing';
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
