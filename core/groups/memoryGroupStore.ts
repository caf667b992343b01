import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import {
  MAX_ITEM_BYTES,
  consumed,
  jsonItemBytes,
  queryPage,
  readUnits,
  writeUnits,
} from '../adapters/memory/capacity.ts';
import { metadataKeys } from '../schema.ts';
import type { GroupMeta } from './groupState.ts';
import type {
  CommitRequest,
  CommitResult,
  CommittedOffset,
  GroupSnapshot,
  GroupStore,
  MemberDelete,
  MemberLiveness,
} from './groupStore.ts';

interface StoredGroup {
  meta: GroupMeta | undefined;
  members: Map<string, MemberLiveness>;
  offsets: Map<string, CommittedOffset>;
}

/**
 * In-memory group storage with the DynamoDB adapter's rules (same contract tests), including
 * DynamoDB's 400 KB item limit and the capacity each request would consume (see capacity.ts).
 */
export class MemoryGroupStore implements GroupStore {
  private readonly groups = new Map<string, StoredGroup>();
  private readonly onCapacity: ((capacity: ConsumedCapacity[]) => void) | undefined;

  constructor(options: { readonly onConsumedCapacity?: (capacity: ConsumedCapacity[]) => void } = {}) {
    this.onCapacity = options.onConsumedCapacity;
  }

  private charge(units: { read?: number; write?: number }): void {
    this.onCapacity?.([consumed('metadata', units)]);
  }

  private group(name: string): StoredGroup {
    let g = this.groups.get(name);
    if (g === undefined) {
      g = { meta: undefined, members: new Map(), offsets: new Map() };
      this.groups.set(name, g);
    }
    return g;
  }

  async loadGroup(group: string): Promise<GroupSnapshot> {
    await tick();
    const g = this.group(group);
    const sizes = [
      ...(g.meta === undefined ? [] : [jsonItemBytes(`group#${group}`, 'meta', g.meta)]),
      ...[...g.members.values()].map((m) => jsonItemBytes(`group#${group}`, `member#${m.memberId}`, m)),
      ...[...g.offsets.values()].map((o) => jsonItemBytes(`group#${group}`, `offset#${o.key}`, o)),
    ];
    for (let at = 0; ;) {
      const page = queryPage(sizes.slice(at), Number.POSITIVE_INFINITY);
      this.charge({ read: readUnits(page.bytes) });
      at += page.count;
      if (!page.cut) break;
    }
    return structuredClone({
      meta: g.meta,
      members: Object.fromEntries(g.members),
      offsets: Object.fromEntries(g.offsets),
    });
  }

  async saveGroup(
    meta: GroupMeta,
    changes: { putMembers?: readonly MemberLiveness[]; deleteMembers?: readonly MemberDelete[] },
  ): Promise<boolean> {
    await tick();
    const g = this.group(meta.name);
    const key = metadataKeys.groupMeta(meta.name);
    const size = checkSize(key.pk, key.sk, meta);
    const members = (changes.putMembers ?? []).map((m) => checkSize(key.pk, `member#${m.memberId}`, m));
    this.charge({ write: 2 * [size, ...members].reduce((n, b) => n + writeUnits(b), 0) });
    if ((g.meta?.version ?? 0) !== meta.version - 1) return false;
    for (const d of changes.deleteMembers ?? []) {
      const m = g.members.get(d.memberId);
      if (d.ifExpiredAt !== undefined && m !== undefined && m.expiresAt > d.ifExpiredAt) return false;
    }
    g.meta = structuredClone(meta);
    for (const d of changes.deleteMembers ?? []) g.members.delete(d.memberId);
    for (const m of changes.putMembers ?? []) g.members.set(m.memberId, structuredClone(m));
    return true;
  }

  async touchMember(
    group: string,
    memberId: string,
    expiresAt: number,
    positions?: Readonly<Record<string, number>>,
  ): Promise<boolean> {
    await tick();
    const m = this.group(group).members.get(memberId);
    const next = { memberId, expiresAt, positions: { ...(positions ?? m?.positions) } };
    this.charge({ write: writeUnits(checkSize(`group#${group}`, `member#${memberId}`, next)) });
    if (m === undefined) return false;
    this.group(group).members.set(memberId, next);
    return true;
  }

  async commitOffsets(group: string, request: CommitRequest, now: number): Promise<CommitResult> {
    await tick();
    const g = this.group(group);
    const meta = g.meta;
    this.charge({ write: 2 * (2 + request.offsets.length) });
    if (
      meta === undefined ||
      meta.generation !== request.generation ||
      request.offsets.some((o) => meta.owners[o.key] !== request.memberId)
    ) {
      return { outcome: 'rejected', reason: 'group' };
    }
    const member = g.members.get(request.memberId);
    if (member === undefined || member.expiresAt <= now) return { outcome: 'rejected', reason: 'member' };
    for (const o of request.offsets) {
      const current = g.offsets.get(o.key);
      if (current !== undefined && current.topicId === o.topicId && current.offset > o.offset)
        return { outcome: 'rejected', reason: 'regression', key: o.key };
    }
    for (const o of request.offsets) {
      g.offsets.set(o.key, {
        key: o.key,
        topicId: o.topicId,
        offset: o.offset,
        ...(o.metadata === undefined ? {} : { metadata: o.metadata }),
        committedAt: now,
        generation: request.generation,
      });
    }
    return { outcome: 'ok' };
  }

  async resetOffsets(group: string, expectedVersion: number, offsets: readonly CommittedOffset[]): Promise<boolean> {
    await tick();
    const g = this.group(group);
    if ((g.meta?.version ?? 0) !== expectedVersion) return false;
    for (const o of offsets) g.offsets.set(o.key, structuredClone(o));
    return true;
  }

  async listGroups(): Promise<string[]> {
    await tick();
    return [...this.groups]
      .filter(([, g]) => g.meta !== undefined)
      .map(([name]) => name)
      .sort();
  }

  async deleteGroup(group: string, expectedVersion: number, snapshot: GroupSnapshot): Promise<boolean> {
    await tick();
    const g = this.group(group);
    if ((g.meta?.version ?? 0) !== expectedVersion) return false;
    g.meta = undefined;
    for (const memberId of Object.keys(snapshot.members)) g.members.delete(memberId);
    for (const key of Object.keys(snapshot.offsets)) g.offsets.delete(key);
    return true;
  }
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
