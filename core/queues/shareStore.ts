import type { Chunk, Cursor } from './shareState.ts';

/** A share group's settings, fixed when its first member joins. */
export interface ShareGroupSettings {
  readonly name: string;
  /** Where a partition's first poll starts: the log start or the end. */
  readonly start: 'earliest' | 'latest';
  /** How long an acquired record is locked to its member. */
  readonly lockMs: number;
  /** At this many deliveries a record released or expired is archived instead. */
  readonly deliveryLimit: number;
  /** The most records in flight per partition (between the start offset and the next new one). */
  readonly maxInFlight: number;
  /** Where archived records are dead-lettered (neither this nor an exchange: they are only counted). */
  readonly deadLetterTopic?: string;
  /** The exchange archived records are published to, with RabbitMQ's `x-death` headers. */
  readonly deadLetterExchange?: string;
  /** The routing key dead letters are published with (default: the record's own routing key). */
  readonly deadLetterRoutingKey?: string;
  /** A record this long past its timestamp is archived (`expired`) when it would be delivered. */
  readonly messageTtlMs?: number;
  /**
   * `read_committed`: records of open transactions are not acquired until they commit, those of
   * aborted ones never (Kafka's share.isolation.level). Absent: `read_uncommitted`.
   */
  readonly isolation?: 'read_committed';
  /** Declared as a queue (`POST /v1/queues`): its one topic has the group's name. */
  readonly queue?: boolean;
  /** A queue's most records (ready and unacknowledged); then `overflow` applies. */
  readonly maxLength?: number;
  /** Over `maxLength`: archive the oldest ready records (`max-length`), or refuse publishes. */
  readonly overflow?: 'drop-head' | 'reject-publish';
  /** Every topic a member has joined with (describe shows their partitions after members leave). */
  readonly topics?: readonly string[];
  readonly createdAt: number;
}

export interface ShareMember {
  readonly memberId: string;
  readonly topics: readonly string[];
  readonly joinedAt: number;
  readonly expiresAt: number;
}

/** A partition's cursor, with the number of records archived so far. */
export interface ShareCursor extends Cursor {
  readonly archived: number;
}

export interface SharePartition {
  readonly cursor: ShareCursor | undefined;
  /** In offset order. */
  readonly chunks: readonly Chunk[];
}

/**
 * A change to one partition's items, made only if each item is still at the version it was read
 * at (`undefined`: the item must not exist yet); all or nothing.
 */
export interface PartitionWrite {
  readonly cursor?: { readonly next: ShareCursor; readonly expectedVersion: number | undefined };
  readonly chunks: readonly {
    readonly base: number;
    /** `null` removes the chunk (finished, below the new start offset). */
    readonly next: Chunk | null;
    readonly expectedVersion: number | undefined;
  }[];
}

/** How far a dead-letter partition has been redriven, changed only from the version read. */
export interface RedrivePositions {
  getRedrivePosition(topicId: string, partition: number): Promise<{ next: number; version: number } | undefined>;
  /** False when the position is no longer at `expectedVersion` (`undefined`: none yet). */
  putRedrivePosition(
    topicId: string,
    partition: number,
    next: number,
    expectedVersion: number | undefined,
  ): Promise<boolean>;
}

/** Where share groups live: the metadata table, or memory. */
export interface ShareStore extends RedrivePositions {
  getGroup(group: string): Promise<ShareGroupSettings | undefined>;
  /** Creates the group unless it exists; returns the group as stored. */
  createGroup(settings: ShareGroupSettings): Promise<ShareGroupSettings>;
  listGroups(): Promise<string[]>;
  /** Adds topics to the group's `topics`. */
  addTopics(group: string, topics: readonly string[]): Promise<void>;
  /** Removes the group and every item of it. */
  deleteGroup(group: string): Promise<void>;
  putMember(group: string, member: ShareMember): Promise<void>;
  getMember(group: string, memberId: string): Promise<ShareMember | undefined>;
  deleteMember(group: string, memberId: string): Promise<boolean>;
  listMembers(group: string): Promise<ShareMember[]>;
  /** A partition (`<topicId>/<partition>`): its cursor and in-flight chunks, in one read. */
  readPartition(group: string, partition: string): Promise<SharePartition>;
  /** False, changing nothing, when an item is no longer at its expected version. */
  writePartition(group: string, partition: string, write: PartitionWrite): Promise<boolean>;
}
