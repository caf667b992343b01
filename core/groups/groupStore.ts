import type { AtomicPart } from '../ports.ts';
import type { Claim, GroupMeta, MemberState, PartitionOwnership } from './groupState.ts';

/** Items a rebalance found left over: expired members' items and unpublished or replaced targets. */
export interface StaleItems {
  readonly members: readonly string[];
  readonly assignments: readonly string[];
  /** Assignment → the members it has targets for, where the caller read them all: no need to look them up. */
  readonly known?: Readonly<Record<string, readonly string[]>>;
}

export interface CommittedOffset {
  /** `topic/partition` */
  readonly key: string;
  /** The topic incarnation the offset belongs to: offsets of a deleted and re-created topic are ignored. */
  readonly topicId: string;
  readonly offset: number;
  readonly metadata?: string;
  readonly committedAt: number;
  readonly generation: number;
}

/** A partition's item in the group: its ownership and, once one was committed, its offset. */
export interface GroupPartition extends PartitionOwnership {
  readonly committed?: CommittedOffset;
}

/** What one member's call reads: the meta, the member's own items, and nothing of other members. */
export interface MemberRead {
  readonly meta: GroupMeta | undefined;
  readonly member: MemberState | undefined;
  /** When the member's session ends (undefined: it has none). */
  readonly expiresAt: number | undefined;
  /** `positionKey(partition, grant)` → next offset this member will read (when asked for). */
  readonly positions: Readonly<Record<string, number>>;
}

/** Everything about a group, for the calls that need all of it (rebalances, describe, delete). */
export interface GroupSnapshot {
  readonly meta: GroupMeta | undefined;
  readonly members: Readonly<Record<string, MemberState>>;
  /** Member → when its session ends; a member without one is gone. */
  readonly sessions: Readonly<Record<string, number>>;
  /** Empty unless read with `partitions`. */
  readonly partitions: Readonly<Record<string, GroupPartition>>;
  /** Member → its target in the current assignment. */
  readonly targets: Readonly<Record<string, readonly string[]>>;
  /** Assignments whose target items are garbage: older than the meta and not its current one. */
  readonly staleAssignments: readonly string[];
  /** The sort key of every item read, so a delete (which reads with `partitions`) removes exactly what was read. */
  readonly keys: readonly string[];
}

/** A rebalance: the next meta and its targets, written before the meta points at them. */
export interface Rebalance {
  /** `version` is the stored version + 1; `assignment` names the targets below. */
  readonly meta: GroupMeta;
  readonly targets: Readonly<Record<string, readonly string[]>>;
  /** A member joining: its item and session, created with the meta. */
  readonly join?: { readonly member: MemberState; readonly expiresAt: number };
  /** Sessions ended with the meta write (left, replaced, or expired at `ifExpiredAt`). */
  readonly ends: readonly { readonly memberId: string; readonly ifExpiredAt?: number }[];
}

/** One member's step towards its target (see `planMember`), written as one transaction. */
export interface Transfer {
  readonly memberId: string;
  /** The step is valid only while this is the current assignment, and the member's session lasts at `now`. */
  readonly assignment: string;
  readonly now: number;
  /**
   * The session is extended to this in the same transaction (it writes the session item it
   * checks anyway): a call that moves partitions has shown the member is alive, and a join, whose
   * session starts before its rebalance and its first step, leaves with a whole session ahead.
   */
  readonly expiresAt: number;
  /** The member's item after the step (its owned partitions and target). */
  readonly member: MemberState;
  readonly claims: readonly Claim[];
  readonly marks: readonly { readonly key: string; readonly owner: string }[];
  readonly releases: readonly string[];
  readonly clears: readonly string[];
}

export interface CommitRequest {
  readonly memberId: string;
  readonly generation: number;
  readonly offsets: readonly {
    readonly key: string;
    readonly topicId: string;
    readonly offset: number;
    readonly metadata?: string;
  }[];
}

export type CommitResult =
  | { readonly outcome: 'ok' }
  /** The group has another generation (or none). */
  | { readonly outcome: 'rejected'; readonly reason: 'group' }
  /** The member's session has ended (or it is gone). */
  | { readonly outcome: 'rejected'; readonly reason: 'member' }
  /** The member does not own the partition, or the commit would move its offset backwards. */
  | { readonly outcome: 'rejected'; readonly reason: 'partition'; readonly key: string };

/**
 * Storage of consumer groups. A member's calls read and write a bounded number of small items
 * (its own, the meta, its target partitions); only rebalances, describe and delete read the whole
 * group. Every change is conditional: the meta on its version, a partition on its owner, a
 * member's step on the assignment and its session.
 */
export interface GroupStore {
  /** The meta, the member's item and session, and (with `positions`) its positions, in one request. */
  loadMember(group: string, memberId: string, options: { readonly positions: boolean }): Promise<MemberRead>;
  /** A member's target in an assignment; undefined if it has none there (or the assignment is gone). */
  loadTarget(group: string, assignment: string, memberId: string): Promise<readonly string[] | undefined>;
  /** The items of these partitions (absent: never granted nor committed). */
  loadPartitions(group: string, keys: readonly string[]): Promise<Record<string, GroupPartition>>;
  /** When these members' sessions end (absent: gone). */
  loadSessions(group: string, memberIds: readonly string[]): Promise<Record<string, number>>;
  /**
   * The session after this member's in id order, wrapping around: each member watches one other,
   * so an ended session is noticed by a heartbeat without any heartbeat reading every member.
   */
  nextSession(group: string, memberId: string): Promise<{ memberId: string; expiresAt: number } | undefined>;
  /**
   * The group's meta, members, sessions and targets; with `partitions`, also every partition's
   * item and every positions item (describe and delete). A rebalance reads no partition items,
   * so its cost grows with the members, not with the partitions.
   */
  loadGroup(group: string, options?: { readonly partitions?: boolean }): Promise<GroupSnapshot>;
  /** Writes the targets, then the meta (if still at version - 1) with the member changes; false on a conflict. */
  saveRebalance(group: string, change: Rebalance): Promise<boolean>;
  /**
   * Removes, if the meta is still at `version`, the items of members whose sessions have ended and
   * the targets of stale assignments. Best effort: what is left is found and removed later.
   */
  removeStale(group: string, version: number, stale: StaleItems): Promise<void>;
  /** One member's step, which also extends its session; false if a condition failed (the caller reads again). */
  transfer(group: string, change: Transfer): Promise<boolean>;
  /** Extends a live session (and, when given, stores positions); false if it has ended or is gone. */
  touchMember(
    group: string,
    memberId: string,
    expiresAt: number,
    now: number,
    positions?: Readonly<Record<string, number>>,
  ): Promise<boolean>;
  /**
   * Commits offsets only if, atomically: the group has this generation, the member's session is
   * live at `now`, it owns every partition, and no offset goes backwards.
   */
  commitOffsets(group: string, request: CommitRequest, now: number): Promise<CommitResult>;
  /**
   * The same commit as part of an atomic write: its item 0 checks the generation, item 1 the
   * member's session, item 2 + i sets `request.offsets[i]` (owned by the member, never backwards).
   */
  commitPart(group: string, request: CommitRequest, now: number): AtomicPart;
  /** Sets offsets (an explicit reset may go backwards) if the group meta still has `expectedVersion`. */
  resetOffsets(group: string, expectedVersion: number, offsets: readonly CommittedOffset[]): Promise<boolean>;
  listGroups(): Promise<string[]>;
  /**
   * Deletes the group if the meta still has `expectedVersion`, then exactly the items of
   * `snapshot` (so a group re-created meanwhile keeps its own).
   */
  deleteGroup(group: string, expectedVersion: number, snapshot: GroupSnapshot): Promise<boolean>;
}

/** Most offsets one commit may carry: a DynamoDB transaction holds 100 items, two are checks. */
export const MAX_COMMIT_OFFSETS = 98;
/** Most sessions one rebalance ends, within DynamoDB's 100 items per transaction. */
export const MAX_MEMBER_CHANGES = 90;
/** Items one member step writes besides its own three (meta and session checks, its member item): within 100. */
export const MAX_STEP_ITEMS = 96;
