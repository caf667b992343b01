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
import { assignmentVersion, type GroupMeta, type MemberState } from './groupState.ts';
import type {
  CommitRequest,
  CommitResult,
  CommittedOffset,
  GroupPartition,
  GroupSnapshot,
  GroupStore,
  MemberRead,
  Rebalance,
  StaleItems,
  Transfer,
} from './groupStore.ts';

interface StoredGroup {
  meta: GroupMeta | undefined;
  members: Map<string, MemberState>;
  sessions: Map<string, number>;
  positions: Map<string, Record<string, number>>;
  partitions: Map<string, GroupPartition>;
  /** `assignment#memberId` → target */
  targets: Map<string, readonly string[]>;
}

type Units = { read?: number; write?: number };

/**
 * In-memory group storage with the DynamoDB adapter's rules (same contract tests), including
 * DynamoDB's 400 KB item limit and the capacity each request would consume (see capacity.ts):
 * items are sized as the DynamoDB adapter lays them out (see dynamoGroupStore.ts), reads cost
 * per item (a Query per page), transactions twice the items' write units.
 */
export class MemoryGroupStore implements GroupStore {
  private readonly groups = new Map<string, StoredGroup>();
  private readonly onCapacity: ((capacity: ConsumedCapacity[]) => void) | undefined;

  constructor(options: { readonly onConsumedCapacity?: (capacity: ConsumedCapacity[]) => void } = {}) {
    this.onCapacity = options.onConsumedCapacity;
  }

  private charge(units: Units): void {
    this.onCapacity?.([consumed('metadata', units)]);
  }

  private group(name: string): StoredGroup {
    let g = this.groups.get(name);
    if (g === undefined) {
      g = {
        meta: undefined,
        members: new Map(),
        sessions: new Map(),
        positions: new Map(),
        partitions: new Map(),
        targets: new Map(),
      };
      this.groups.set(name, g);
    }
    return g;
  }

  /** The items of a group, by sort key, with their sizes (as dynamoGroupStore.ts writes them). */
  private items(name: string): [string, number][] {
    const g = this.group(name);
    const pk = `group#${name}`;
    const out: [string, number][] = [];
    if (g.meta !== undefined) out.push(['meta', jsonItemBytes(pk, 'meta', g.meta)]);
    for (const [id, m] of g.members) out.push([`member#${id}`, jsonItemBytes(pk, `member#${id}`, m)]);
    for (const [id, e] of g.sessions) out.push([`session#${id}`, sessionBytes(name, id, e)]);
    for (const [id, p] of g.positions) out.push([`position#${id}`, jsonItemBytes(pk, `position#${id}`, p)]);
    for (const [key, p] of g.partitions) out.push([`offset#${key}`, jsonItemBytes(pk, `offset#${key}`, p)]);
    for (const [key, t] of g.targets) out.push([`target#${key}`, jsonItemBytes(pk, `target#${key}`, t)]);
    return out.sort(([a], [b]) => (a < b ? -1 : 1));
  }

  async loadMember(group: string, memberId: string, options: { positions: boolean }): Promise<MemberRead> {
    await tick();
    const g = this.group(group);
    const pk = `group#${group}`;
    const member = g.members.get(memberId);
    const expiresAt = g.sessions.get(memberId);
    const positions = options.positions ? g.positions.get(memberId) : undefined;
    // One BatchGetItem: each item costs its own read units, a missing one the minimum.
    let units = readUnits(g.meta === undefined ? 0 : jsonItemBytes(pk, 'meta', g.meta));
    units += readUnits(member === undefined ? 0 : jsonItemBytes(pk, `member#${memberId}`, member));
    units += readUnits(expiresAt === undefined ? 0 : sessionBytes(group, memberId, expiresAt));
    if (options.positions)
      units += readUnits(positions === undefined ? 0 : jsonItemBytes(pk, `position#${memberId}`, positions));
    this.charge({ read: units });
    return structuredClone({ meta: g.meta, member, expiresAt, positions: positions ?? {} });
  }

  async loadTarget(group: string, assignment: string, memberId: string): Promise<readonly string[] | undefined> {
    await tick();
    const target = this.group(group).targets.get(`${assignment}#${memberId}`);
    this.charge({ read: readUnits(target === undefined ? 0 : jsonItemBytes(group, assignment, target)) });
    return target === undefined ? undefined : [...target];
  }

  async loadPartitions(group: string, keys: readonly string[]): Promise<Record<string, GroupPartition>> {
    await tick();
    const g = this.group(group);
    const out: Record<string, GroupPartition> = Object.create(null);
    for (let i = 0; i < keys.length; i += 100) {
      let units = 0; // one BatchGetItem per 100 keys
      for (const key of keys.slice(i, i + 100)) {
        const p = g.partitions.get(key);
        units += readUnits(p === undefined ? 0 : jsonItemBytes(`group#${group}`, `offset#${key}`, p));
        if (p !== undefined) out[key] = structuredClone(p);
      }
      this.charge({ read: units });
    }
    return out;
  }

  async loadSessions(group: string, memberIds: readonly string[]): Promise<Record<string, number>> {
    await tick();
    const g = this.group(group);
    const out: Record<string, number> = Object.create(null);
    for (let i = 0; i < memberIds.length; i += 100) {
      this.charge({ read: memberIds.slice(i, i + 100).length });
      for (const id of memberIds.slice(i, i + 100)) {
        const e = g.sessions.get(id);
        if (e !== undefined) out[id] = e;
      }
    }
    return out;
  }

  async nextSession(group: string, memberId: string): Promise<{ memberId: string; expiresAt: number } | undefined> {
    await tick();
    const ids = [...this.group(group).sessions.keys()].sort();
    let next = ids.find((id) => id > memberId);
    this.charge({ read: 1 }); // a Query with Limit 1
    if (next === undefined) {
      next = ids[0];
      this.charge({ read: 1 }); // wrapped around: a second one from the first session
    }
    return next === undefined || next === memberId
      ? undefined
      : { memberId: next, expiresAt: this.group(group).sessions.get(next)! };
  }

  async loadGroup(group: string): Promise<GroupSnapshot> {
    await tick();
    const g = this.group(group);
    this.charge({ read: readUnits(g.meta === undefined ? 0 : jsonItemBytes(`group#${group}`, 'meta', g.meta)) });
    const items = this.items(group).filter(([sk]) => sk !== 'meta');
    for (let at = 0; ;) {
      const page = queryPage(
        items.slice(at).map(([, size]) => size),
        Number.POSITIVE_INFINITY,
      );
      this.charge({ read: readUnits(page.bytes) });
      at += page.count;
      if (!page.cut) break;
    }
    const meta = g.meta;
    const targets: Record<string, readonly string[]> = {};
    const stale = new Set<string>();
    for (const [key, target] of g.targets) {
      const at = key.lastIndexOf('#');
      const assignment = key.slice(0, at);
      if (assignment === meta?.assignment) targets[key.slice(at + 1)] = target;
      else if (meta === undefined || assignmentVersion(assignment) <= meta.version) stale.add(assignment);
    }
    return structuredClone({
      meta,
      members: Object.fromEntries(g.members),
      sessions: Object.fromEntries(g.sessions),
      partitions: Object.fromEntries(g.partitions),
      targets,
      staleAssignments: [...stale],
      keys: this.items(group).map(([sk]) => sk),
    });
  }

  async saveRebalance(group: string, change: Rebalance): Promise<boolean> {
    await tick();
    const g = this.group(group);
    const pk = `group#${group}`;
    // The targets first (BatchWriteItem, 25 items a request), then one transaction.
    const targets = Object.entries(change.targets).map(([id, t]) => {
      const size = checkSize(pk, `target#${change.meta.assignment}#${id}`, t);
      return { id, t, size };
    });
    for (let i = 0; i < targets.length; i += 25)
      this.charge({ write: targets.slice(i, i + 25).reduce((n, x) => n + writeUnits(x.size), 0) });
    for (const { id, t } of targets) g.targets.set(`${change.meta.assignment}#${id}`, [...t]);
    const writes = [checkSize(pk, 'meta', change.meta), ...change.ends.map(() => 1)];
    if (change.join !== undefined) {
      const id = change.join.member.memberId;
      writes.push(
        checkSize(pk, `member#${id}`, change.join.member),
        sessionBytes(group, id, change.join.expiresAt),
        jsonItemBytes(pk, `position#${id}`, {}),
      );
    }
    this.charge({ write: 2 * writes.reduce((n, b) => n + writeUnits(b), 0) });
    const fits =
      (g.meta?.version ?? 0) === change.meta.version - 1 &&
      change.ends.every((e) => e.ifExpiredAt === undefined || (g.sessions.get(e.memberId) ?? 0) <= e.ifExpiredAt);
    if (!fits) {
      for (const { id } of targets) g.targets.delete(`${change.meta.assignment}#${id}`); // not published: removed
      return false;
    }
    g.meta = structuredClone(change.meta);
    for (const e of change.ends) g.sessions.delete(e.memberId);
    if (change.join !== undefined) {
      const id = change.join.member.memberId;
      g.members.set(id, structuredClone(change.join.member));
      g.sessions.set(id, change.join.expiresAt);
      g.positions.set(id, {});
    }
    return true;
  }

  async removeStale(group: string, version: number, stale: StaleItems): Promise<void> {
    await tick();
    const g = this.group(group);
    const keys = [...g.targets.keys()].filter((k) => stale.assignments.includes(k.slice(0, k.lastIndexOf('#'))));
    this.charge({ write: 2 * (1 + 2 * stale.members.length) + keys.length });
    if (g.meta?.version !== version) return;
    for (const id of stale.members) {
      if (g.sessions.has(id)) continue; // the transaction checks that the session is gone
      g.members.delete(id);
      g.positions.delete(id);
    }
    for (const k of keys) g.targets.delete(k);
  }

  async transfer(group: string, change: Transfer): Promise<boolean> {
    await tick();
    const g = this.group(group);
    const pk = `group#${group}`;
    const id = change.memberId;
    const owners = new Set(
      change.claims.flatMap((c) => (c.from === undefined || c.from.owner === id ? [] : [c.from.owner])),
    );
    const keys = [
      ...change.claims.map((c) => c.key),
      ...change.marks.map((m) => m.key),
      ...change.releases,
      ...change.clears,
    ];
    const partitionUnits = keys.reduce(
      (n, key) => n + writeUnits(jsonItemBytes(pk, `offset#${key}`, g.partitions.get(key) ?? { key, grants: 0 })),
      0,
    );
    // One transaction: the meta and session checks, the member, its partitions, and the owners it takes from.
    const memberUnits = writeUnits(checkSize(pk, `member#${id}`, change.member));
    this.charge({ write: 2 * (2 + memberUnits + partitionUnits + owners.size) });
    if (g.meta?.assignment !== change.assignment || !((g.sessions.get(id) ?? 0) > change.now)) return false;
    if (!g.members.has(id)) return false;
    for (const c of change.claims) {
      const p = g.partitions.get(c.key);
      if (p?.owner !== c.from?.owner) return false;
      if (c.from === undefined || c.from.owner === id) continue;
      if (c.from.because === 'gone' && (g.sessions.get(c.from.owner) ?? 0) > change.now) return false;
      if (c.from.because === 'timeout' && p?.revokingSince !== c.from.since) return false;
    }
    for (const m of change.marks) {
      const p = g.partitions.get(m.key);
      if (p?.owner !== m.owner || p.revokingSince !== undefined) return false;
    }
    for (const key of change.releases) if (g.partitions.get(key)?.owner !== id) return false;
    for (const key of change.clears) if (g.partitions.get(key)?.owner !== id) return false;
    // Every condition holds: apply all of it.
    const rebalanceTimeoutMs = change.member.info.rebalanceTimeoutMs;
    for (const c of change.claims) {
      const p = g.partitions.get(c.key);
      g.partitions.set(c.key, {
        ...withoutOwnership(p, c.key),
        owner: id,
        grants: c.grants + 1,
        rebalanceTimeoutMs,
      });
      if (c.from?.because === 'timeout') {
        const from = g.members.get(c.from.owner);
        if (from !== undefined) {
          const owned = { ...from.owned };
          delete owned[c.key];
          g.members.set(c.from.owner, { ...from, owned });
        }
      }
    }
    for (const m of change.marks) g.partitions.set(m.key, { ...g.partitions.get(m.key)!, revokingSince: change.now });
    for (const key of change.releases) g.partitions.set(key, withoutOwnership(g.partitions.get(key), key));
    for (const key of change.clears) {
      const { revokingSince: _, ...rest } = g.partitions.get(key)!;
      g.partitions.set(key, rest);
    }
    g.members.set(id, structuredClone(change.member));
    g.sessions.set(id, change.expiresAt);
    return true;
  }

  async touchMember(
    group: string,
    memberId: string,
    expiresAt: number,
    now: number,
    positions?: Readonly<Record<string, number>>,
  ): Promise<boolean> {
    await tick();
    const g = this.group(group);
    this.charge({ write: writeUnits(sessionBytes(group, memberId, expiresAt)) });
    if (!((g.sessions.get(memberId) ?? 0) > now)) return false;
    g.sessions.set(memberId, expiresAt);
    if (positions !== undefined) {
      this.charge({ write: writeUnits(checkSize(`group#${group}`, `position#${memberId}`, positions)) });
      g.positions.set(memberId, { ...positions });
    }
    return true;
  }

  commitPart(group: string, request: CommitRequest, now: number): MemoryPart {
    const g = this.group(group);
    const sizes = request.offsets.map((o) =>
      checkSize(`group#${group}`, `offset#${o.key}`, { ...g.partitions.get(o.key), committed: o }),
    );
    return new MemoryPart(
      2 + request.offsets.length,
      sizes.reduce((n, b) => n + b, 0),
      () => {
        const rejected = this.commitCheck(g, request, now);
        if (rejected === undefined) return undefined;
        if (rejected.reason === 'group') return { item: 0 };
        if (rejected.reason === 'member') return { item: 1 };
        return { item: 2 + request.offsets.findIndex((o) => o.key === rejected.key) };
      },
      () => this.commitApply(g, request, now),
      () => this.charge({ write: 2 * (2 + sizes.reduce((n, b) => n + writeUnits(b), 0)) }),
    );
  }

  private commitCheck(
    g: ReturnType<MemoryGroupStore['group']>,
    request: CommitRequest,
    now: number,
  ): Exclude<CommitResult, { outcome: 'ok' }> | undefined {
    if (g.meta === undefined || g.meta.generation !== request.generation)
      return { outcome: 'rejected', reason: 'group' };
    if (!((g.sessions.get(request.memberId) ?? 0) > now)) return { outcome: 'rejected', reason: 'member' };
    for (const o of request.offsets) {
      const p = g.partitions.get(o.key);
      const current = p?.committed;
      if (p?.owner !== request.memberId || (current?.topicId === o.topicId && current.offset > o.offset))
        return { outcome: 'rejected', reason: 'partition', key: o.key };
    }
    return undefined;
  }

  async commitOffsets(group: string, request: CommitRequest, now: number): Promise<CommitResult> {
    await tick();
    const g = this.group(group);
    const sizes = request.offsets.map((o) =>
      checkSize(`group#${group}`, `offset#${o.key}`, { ...g.partitions.get(o.key), committed: o }),
    );
    this.charge({ write: 2 * (2 + sizes.reduce((n, b) => n + writeUnits(b), 0)) });
    const rejected = this.commitCheck(g, request, now);
    if (rejected !== undefined) return rejected;
    this.commitApply(g, request, now);
    return { outcome: 'ok' };
  }

  private commitApply(g: ReturnType<MemoryGroupStore['group']>, request: CommitRequest, now: number): void {
    for (const o of request.offsets) {
      g.partitions.set(o.key, {
        ...g.partitions.get(o.key)!,
        committed: {
          key: o.key,
          topicId: o.topicId,
          offset: o.offset,
          ...(o.metadata === undefined ? {} : { metadata: o.metadata }),
          committedAt: now,
          generation: request.generation,
        },
      });
    }
  }

  async resetOffsets(group: string, expectedVersion: number, offsets: readonly CommittedOffset[]): Promise<boolean> {
    await tick();
    const g = this.group(group);
    this.charge({ write: 2 * (offsets.length + Math.ceil(offsets.length / 98)) });
    if ((g.meta?.version ?? 0) !== expectedVersion) return false;
    for (const o of offsets)
      g.partitions.set(o.key, {
        ...(g.partitions.get(o.key) ?? { key: o.key, grants: 0 }),
        committed: structuredClone(o),
      });
    return true;
  }

  async listGroups(): Promise<string[]> {
    await tick();
    this.charge({ read: 1 });
    return [...this.groups]
      .filter(([, g]) => g.meta !== undefined)
      .map(([name]) => name)
      .sort();
  }

  async deleteGroup(group: string, expectedVersion: number, snapshot: GroupSnapshot): Promise<boolean> {
    await tick();
    const g = this.group(group);
    this.charge({ write: 4 + snapshot.keys.length });
    if ((g.meta?.version ?? 0) !== expectedVersion) return false;
    g.meta = undefined;
    const maps: [string, Map<string, unknown>][] = [
      ['member#', g.members],
      ['session#', g.sessions],
      ['position#', g.positions],
      ['offset#', g.partitions],
      ['target#', g.targets],
    ];
    for (const sk of snapshot.keys)
      for (const [prefix, map] of maps) if (sk.startsWith(prefix)) map.delete(sk.slice(prefix.length));
    return true;
  }
}

/** A partition's item without an owner (its grant count and committed offset stay). */
function withoutOwnership(p: GroupPartition | undefined, key: string): GroupPartition {
  return {
    key,
    grants: p?.grants ?? 0,
    ...(p?.committed === undefined ? {} : { committed: p.committed }),
  };
}

function sessionBytes(group: string, memberId: string, expiresAt: number): number {
  return jsonItemBytes(`group#${group}`, `session#${memberId}`, { memberId, expiresAt });
}

/** An item's size, refused as DynamoDB refuses items over 400 KB. */
function checkSize(pk: string, sk: string, value: unknown): number {
  const size = jsonItemBytes(pk, sk, value);
  if (size > MAX_ITEM_BYTES)
    throw new Error(`ValidationException: Item size ${size} has exceeded the maximum allowed size`);
  return size;
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
