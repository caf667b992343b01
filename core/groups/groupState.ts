import { assign, type Assignment, type AssignorName } from './assignors.ts';

/**
 * A consumer group's coordination state and its legal transitions, as pure functions. The state
 * is spread over items so that no item grows with the group and a member's heartbeat touches only
 * a few small ones (DynamoDB items hold at most 400 KB; a group of 5,000 partitions described in
 * one item would not fit, and every heartbeat would read all of it):
 *
 * - the meta (`GroupMeta`): generation, assignor, the id of the current target assignment and the
 *   partition counts it covers; fixed size, changed only by a rebalance (conditional on `version`);
 * - per member, its subscription and what it owns (`MemberState`), a tiny session item
 *   (`expiresAt`, written by every heartbeat) and its read positions (written by polls);
 * - per member and assignment, its target (immutable: written before the meta points at it);
 * - per partition, its owner, grant count and revocation (`PartitionOwnership`), in the item that
 *   also holds the committed offset, so a commit checks ownership on the item it writes.
 *
 * Lifecycle of a partition in a group (cooperative rebalancing):
 *
 *   unowned ──claim──▶ owned by M ──target moves it──▶ revoking (M still owns it)
 *      ▲                                                   │
 *      └──── M releases it, M's session ends, or the rebalance timeout passes ◀──┘
 *
 * A partition changes owner only by a conditional write on its own item, from "no owner" or from
 * an owner whose session has ended, who released it, or whose rebalance timeout has passed; so no
 * two members ever own it at once. Only the member whose current target holds it may claim it.
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
  /** The current target assignment (see `assignmentId`); each member's target is its own item. */
  readonly assignment: string;
  /** Topic → the partition count the assignment covers: a member that sees another count rebalances. */
  readonly counts: Readonly<Record<string, number>>;
  readonly createdAt: number;
}

/** One member: what it subscribes to and what it owns. Its session and positions are separate items. */
export interface MemberState {
  readonly memberId: string;
  readonly info: MemberInfo;
  /**
   * Partition → the grant under which this member owns it. It mirrors the partitions' `owner`
   * (both change in one transaction), so a heartbeat learns what it owns from this item alone. A
   * member's read position is kept under the grant, so a member that loses a partition and later
   * gets it back starts from the committed offset, not from a position another owner moved past.
   */
  readonly owned: Readonly<Record<string, number>>;
  /** The assignment whose target this member last took in, and that target. */
  readonly assignment: string;
  readonly target: readonly string[];
}

/** A partition's ownership within the group (kept with its committed offset). */
export interface PartitionOwnership {
  readonly key: string;
  /** The member last granted it; it owns it while its session lasts and it has not given it up. */
  readonly owner?: string;
  /** How many times it has been granted. */
  readonly grants: number;
  /** When the member meant to take it over first saw it still owned by another. */
  readonly revokingSince?: number;
  /** The owner's rebalance timeout, so a claimant knows when it may take the partition. */
  readonly rebalanceTimeoutMs?: number;
}

export function emptyGroup(name: string, assignor: AssignorName, now: number): GroupMeta {
  return { name, version: 0, generation: 0, assignor, assignment: '', counts: {}, createdAt: now };
}

/**
 * An assignment's id starts with the meta version it was written for, so target items of
 * assignments that can no longer be published (an older version that is not the current one)
 * are recognisable as garbage while a rebalance under way (the next version) is left alone.
 */
export function assignmentId(version: number, nonce: string): string {
  return `${String(version).padStart(12, '0')}.${nonce}`;
}

export function assignmentVersion(assignment: string): number {
  return Number(assignment.slice(0, assignment.indexOf('.')));
}

/** What the group's members subscribe to: topic → partition count (absent topics are skipped). */
export type PartitionCounts = Readonly<Record<string, number>>;

export function subscribedTopics(members: readonly MemberInfo[]): string[] {
  return [...new Set(members.flatMap((m) => m.topics))].sort();
}

/** The target assignment of `members`, sticky to `previous` where the assignor is. */
export function targetsFor(
  assignor: AssignorName,
  members: Readonly<Record<string, MemberInfo>>,
  previous: Readonly<Record<string, readonly string[]>>,
  partitions: PartitionCounts,
): Assignment {
  const subscriptions = Object.fromEntries(Object.entries(members).map(([id, m]) => [id, m.topics]));
  return assign(assignor, { members: subscriptions, partitions, previous });
}

/** The partitions an assignment covers, so a change in partition counts shows as a rebalance. */
export function covered(targets: Readonly<Record<string, readonly string[]>>): string {
  return Object.values(targets).flat().sort().join(',');
}

export interface Claim {
  readonly key: string;
  /** The grant the partition has now (the claim makes it `grants + 1`). */
  readonly grants: number;
  /** The recorded owner the claim replaces, and why it may: it is gone, or its time to release is up. */
  readonly from?: { readonly owner: string; readonly because: 'gone' | 'timeout'; readonly since?: number };
}

/** What one member does to move towards its target; each step is a conditional write. */
export interface MemberPlan {
  /** Target partitions that are free (or whose owner is gone or out of time): take them. */
  readonly claims: readonly Claim[];
  /** Target partitions another live member still owns: start its rebalance timeout. */
  readonly marks: readonly { readonly key: string; readonly owner: string }[];
  /** Revoked partitions the member gives back. */
  readonly releases: readonly string[];
  /** Partitions that came back to the member's target: its old revocation no longer counts. */
  readonly clears: readonly string[];
}

/**
 * Plans a member's step at `now` from its own state, its current target, the ownership of the
 * target partitions it does not own yet, and the sessions of their owners.
 */
export function planMember(
  member: MemberState,
  target: readonly string[],
  partitions: Readonly<Record<string, PartitionOwnership>>,
  sessions: Readonly<Record<string, number>>,
  now: number,
  releasing: readonly string[],
): MemberPlan {
  const wanted = new Set(target);
  const claims: Claim[] = [];
  const marks: { key: string; owner: string }[] = [];
  for (const key of target) {
    if (Object.hasOwn(member.owned, key)) continue;
    const p = partitions[key];
    const owner = p?.owner;
    if (owner === undefined) claims.push({ key, grants: p?.grants ?? 0 });
    else if (owner === member.memberId || (sessions[owner] ?? 0) <= now)
      claims.push({ key, grants: p!.grants, from: { owner, because: 'gone' } });
    else if (p!.revokingSince === undefined) marks.push({ key, owner });
    else if (p!.revokingSince + (p!.rebalanceTimeoutMs ?? 0) <= now)
      claims.push({ key, grants: p!.grants, from: { owner, because: 'timeout', since: p!.revokingSince } });
  }
  const previous = member.assignment === '' ? wanted : new Set(member.target);
  return {
    claims,
    marks,
    releases: releasing.filter((key) => Object.hasOwn(member.owned, key) && !wanted.has(key)),
    clears: Object.keys(member.owned).filter((key) => wanted.has(key) && !previous.has(key)),
  };
}

/** The member after a step: claims added, releases removed, the target taken in. */
export function applyPlan(
  member: MemberState,
  assignment: string,
  target: readonly string[],
  plan: Pick<MemberPlan, 'claims' | 'releases'>,
): MemberState {
  const owned = { ...member.owned };
  for (const c of plan.claims) owned[c.key] = c.grants + 1;
  for (const key of plan.releases) delete owned[key];
  return { ...member, owned, assignment, target };
}

/** The key a member's read position for a partition is stored under (see `MemberState.owned`). */
export function positionKey(key: string, grant: number): string {
  return `${key}#${grant}`;
}

export function revokingFrom(member: MemberState, target: readonly string[]): string[] {
  const wanted = new Set(target);
  return Object.keys(member.owned)
    .filter((key) => !wanted.has(key))
    .sort();
}

export function sameSubscription(a: readonly string[], b: readonly string[]): boolean {
  return [...a].sort().join('\n') === [...b].sort().join('\n');
}
