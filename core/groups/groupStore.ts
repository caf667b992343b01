import type { GroupMeta } from './groupState.ts';

/** One member's liveness and read positions, in its own item so heartbeats do not contend. */
export interface MemberLiveness {
  readonly memberId: string;
  readonly expiresAt: number;
  /** `positionKey(meta, partition)` → next offset this member will read. */
  readonly positions: Readonly<Record<string, number>>;
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

/** Everything about a group, read in one go. */
export interface GroupSnapshot {
  readonly meta: GroupMeta | undefined;
  readonly members: Readonly<Record<string, MemberLiveness>>;
  readonly offsets: Readonly<Record<string, CommittedOffset>>;
}

export interface MemberDelete {
  readonly memberId: string;
  /** Delete only if the member's session ended at or before this time (it did not heartbeat since). */
  readonly ifExpiredAt?: number;
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
  /** The group check failed: wrong generation, or a partition the member does not own. */
  | { readonly outcome: 'rejected'; readonly reason: 'group' }
  /** The member's session has ended (or it is gone). */
  | { readonly outcome: 'rejected'; readonly reason: 'member' }
  /** The commit would move a committed offset backwards. */
  | { readonly outcome: 'rejected'; readonly reason: 'regression'; readonly key: string };

/**
 * Storage of consumer groups. Every change to a group's meta is conditional on its version
 * (`meta.version - 1` is expected; version 1 creates it), so concurrent coordinators never lose
 * each other's updates.
 */
export interface GroupStore {
  loadGroup(group: string): Promise<GroupSnapshot>;
  /** Writes `meta` and the member changes atomically, or nothing (returns false on a conflict). */
  saveGroup(
    meta: GroupMeta,
    changes: { readonly putMembers?: readonly MemberLiveness[]; readonly deleteMembers?: readonly MemberDelete[] },
  ): Promise<boolean>;
  /** Extends a member's session and, when given, replaces its positions; false if the member item is gone. */
  touchMember(
    group: string,
    memberId: string,
    expiresAt: number,
    positions?: Readonly<Record<string, number>>,
  ): Promise<boolean>;
  /**
   * Commits offsets only if, atomically: the group has this generation and the member owns every
   * partition, the member's session is live at `now`, and no offset goes backwards.
   */
  commitOffsets(group: string, request: CommitRequest, now: number): Promise<CommitResult>;
  /** Sets offsets (an explicit reset may go backwards) if the group meta still has `expectedVersion`. */
  resetOffsets(group: string, expectedVersion: number, offsets: readonly CommittedOffset[]): Promise<boolean>;
  listGroups(): Promise<string[]>;
  /**
   * Deletes the group if the meta still has `expectedVersion`, then exactly the member and offset
   * items of `snapshot` (so a group re-created meanwhile keeps its own).
   */
  deleteGroup(group: string, expectedVersion: number, snapshot: GroupSnapshot): Promise<boolean>;
}

/** Most offsets one commit may carry: a DynamoDB transaction holds 100 items, two are checks. */
export const MAX_COMMIT_OFFSETS = 98;
/** Most member items one group write adds or removes, within DynamoDB's 100 items per transaction. */
export const MAX_MEMBER_CHANGES = 90;
