import { assign, type AssignorName } from './assignors.ts';

/**
 * A consumer group's coordination state and its legal transitions, as pure functions. The store
 * keeps it in one item changed only by conditional writes (optimistic locking on `version`);
 * member liveness lives in one small item per member so that heartbeats do not contend.
 *
 * Lifecycle of a partition in a group (cooperative rebalancing):
 *
 *   unowned ──grant──▶ owned by M ──target moves it──▶ revoking (M still owns it)
 *      ▲                                                   │
 *      └──── M releases it, M's session expires, or the rebalance timeout passes ◀──┘
 *
 * A partition is granted only while unowned, so no two members ever own it at once; members whose
 * partitions do not move keep consuming through a rebalance.
 */
export interface MemberInfo {
  readonly instanceId?: string;
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  /** How long a member may take to release a revoked partition before it is taken from it. */
  readonly rebalanceTimeoutMs: number;
  readonly autoOffsetReset: 'earliest' | 'latest' | 'error';
  readonly joinedAt: number;
}

export interface GroupMeta {
  readonly name: string;
  readonly version: number;
  readonly generation: number;
  readonly assignor: AssignorName;
  readonly members: Readonly<Record<string, MemberInfo>>;
  /** Member id → the partitions the assignor wants it to own. */
  readonly target: Readonly<Record<string, readonly string[]>>;
  /** Partition → the member that owns it now. */
  readonly owners: Readonly<Record<string, string>>;
  /** Partition → when its owner was asked to release it. */
  readonly revoking: Readonly<Record<string, number>>;
  /**
   * Partition → how many times it has been granted. A member's read position is kept under this
   * count, so a member that loses a partition and later gets it back starts from the committed
   * offset, not from a position that another owner has since moved past.
   */
  readonly grants: Readonly<Record<string, number>>;
  readonly createdAt: number;
}

export function emptyGroup(name: string, assignor: AssignorName, now: number): GroupMeta {
  return {
    name,
    version: 0,
    generation: 0,
    assignor,
    members: {},
    target: {},
    owners: {},
    revoking: {},
    grants: {},
    createdAt: now,
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function clone(meta: GroupMeta): Mutable<GroupMeta> & {
  members: Record<string, MemberInfo>;
  owners: Record<string, string>;
  revoking: Record<string, number>;
  target: Record<string, readonly string[]>;
  grants: Record<string, number>;
} {
  return {
    ...meta,
    members: { ...meta.members },
    target: { ...meta.target },
    owners: { ...meta.owners },
    revoking: { ...meta.revoking },
    grants: { ...meta.grants },
  };
}

/** What the group's members subscribe to: topic → partition count (absent topics are skipped). */
export type PartitionCounts = Readonly<Record<string, number>>;

export function subscribedTopics(meta: GroupMeta): string[] {
  return [...new Set(Object.values(meta.members).flatMap((m) => m.topics))].sort();
}

function recomputeTarget(meta: ReturnType<typeof clone>, partitions: PartitionCounts): void {
  const members = Object.fromEntries(Object.entries(meta.members).map(([id, m]) => [id, m.topics]));
  meta.target = assign(meta.assignor, { members, partitions, previous: meta.target });
}

/** The partitions the subscriptions cover now, so a change in partition counts triggers a rebalance. */
function covered(meta: GroupMeta): string {
  return Object.values(meta.target).flat().sort().join(',');
}

export interface Reconciled {
  readonly meta: GroupMeta;
  readonly changed: boolean;
  readonly expired: string[];
}

/**
 * Brings the state up to date at `now`: removes members whose sessions expired (their partitions
 * become free), rebalances when membership or partition counts changed, asks owners to release
 * partitions that moved, takes them after the rebalance timeout, and grants free partitions to
 * their target members. Anyone may call it: whoever notices first does the work.
 */
export function reconcile(
  meta: GroupMeta,
  liveness: Readonly<Record<string, number>>,
  now: number,
  partitions: PartitionCounts,
): Reconciled {
  const next = clone(meta);
  let changed = false;
  const expired = Object.keys(next.members).filter((id) => (liveness[id] ?? 0) <= now);
  if (expired.length > 0) {
    for (const id of expired) {
      delete next.members[id];
      delete next.target[id];
    }
    for (const [key, owner] of Object.entries(next.owners)) {
      if (expired.includes(owner)) {
        delete next.owners[key];
        delete next.revoking[key];
      }
    }
    next.generation++;
    recomputeTarget(next, partitions);
    changed = true;
  } else {
    const before = covered(next);
    recomputeTarget(next, partitions);
    if (covered(next) !== before) {
      next.generation++;
      changed = true;
    } else {
      next.target = meta.target; // keep the stored target when nothing moved
    }
  }
  const targetOf = new Map<string, string>();
  for (const [id, keys] of Object.entries(next.target)) for (const key of keys) targetOf.set(key, id);
  for (const [key, owner] of Object.entries(next.owners)) {
    if (targetOf.get(key) === owner) {
      if (key in next.revoking) {
        delete next.revoking[key];
        changed = true;
      }
      continue;
    }
    const since = next.revoking[key];
    if (since === undefined) {
      next.revoking[key] = now;
      changed = true;
    } else if (since + (next.members[owner]?.rebalanceTimeoutMs ?? 0) <= now) {
      delete next.owners[key]; // the owner did not release in time: take it
      delete next.revoking[key];
      changed = true;
    }
  }
  for (const [key, id] of targetOf) {
    if (next.owners[key] === undefined) {
      next.owners[key] = id;
      next.grants[key] = (next.grants[key] ?? 0) + 1;
      changed = true;
    }
  }
  return { meta: next, changed, expired };
}

export interface JoinRequest {
  readonly memberId: string;
  readonly info: MemberInfo;
}

/**
 * Adds a member and rebalances. A static member (same `instanceId`) that comes back while its old
 * session is still live takes over the old member's partitions under its new id, with no
 * rebalance and no generation change; the old id is fenced.
 */
export function join(
  meta: GroupMeta,
  request: JoinRequest,
  partitions: PartitionCounts,
): { meta: GroupMeta; replaced?: string } {
  const next = clone(meta);
  const instanceId = request.info.instanceId;
  const previous =
    instanceId === undefined
      ? undefined
      : Object.entries(next.members).find(([, m]) => m.instanceId === instanceId)?.[0];
  if (previous !== undefined && sameSubscription(next.members[previous]!.topics, request.info.topics)) {
    delete next.members[previous];
    next.members[request.memberId] = request.info;
    next.target[request.memberId] = next.target[previous] ?? [];
    delete next.target[previous];
    for (const [key, owner] of Object.entries(next.owners)) {
      if (owner !== previous) continue;
      next.owners[key] = request.memberId;
      next.grants[key] = (next.grants[key] ?? 0) + 1; // the new incarnation resumes from commits
    }
    return { meta: next, replaced: previous };
  }
  if (previous !== undefined) removeMember(next, previous);
  next.members[request.memberId] = request.info;
  next.generation++;
  recomputeTarget(next, partitions);
  return { meta: next, ...(previous === undefined ? {} : { replaced: previous }) };
}

/** Removes a member (it left): its partitions are free at once, and the group rebalances. */
export function leave(meta: GroupMeta, memberId: string, partitions: PartitionCounts): GroupMeta {
  const next = clone(meta);
  removeMember(next, memberId);
  next.generation++;
  recomputeTarget(next, partitions);
  return next;
}

function removeMember(next: ReturnType<typeof clone>, memberId: string): void {
  delete next.members[memberId];
  delete next.target[memberId];
  for (const [key, owner] of Object.entries(next.owners)) {
    if (owner === memberId) {
      delete next.owners[key];
      delete next.revoking[key];
    }
  }
}

/** A member gives back partitions it was asked to release (after committing their offsets). */
export function release(meta: GroupMeta, memberId: string, keys: readonly string[]): GroupMeta {
  const next = clone(meta);
  for (const key of keys) {
    if (next.owners[key] === memberId && key in next.revoking) {
      delete next.owners[key];
      delete next.revoking[key];
    }
  }
  return next;
}

/** The key a member's read position for a partition is stored under (see `grants`). */
export function positionKey(meta: GroupMeta, key: string): string {
  return `${key}#${meta.grants[key] ?? 0}`;
}

export function ownedBy(meta: GroupMeta, memberId: string): string[] {
  return Object.entries(meta.owners)
    .filter(([, owner]) => owner === memberId)
    .map(([key]) => key)
    .sort();
}

export function revokingFrom(meta: GroupMeta, memberId: string): string[] {
  return ownedBy(meta, memberId).filter((key) => key in meta.revoking);
}

function sameSubscription(a: readonly string[], b: readonly string[]): boolean {
  return [...a].sort().join('\n') === [...b].sort().join('\n');
}
