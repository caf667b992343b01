/**
 * Table and key schema, defined once here and imported by the adapters, the table-creation code
 * and the CDK stack (never retyped).
 *
 * Log table: one item per record batch. Attribute names are short because DynamoDB counts them
 * in every item's size, and so in every write unit.
 * Metadata table: single-table design for topics, partition state and producer state.
 */
export const LOG_TABLE = {
  partitionKey: { name: 'pk', type: 'S' }, // logKey(topicId, partition)
  sortKey: { name: 'sk', type: 'N' }, // base offset of the batch
  attributes: {
    recordCount: 'n',
    firstTimestamp: 't0',
    maxTimestamp: 't1',
    sizeBytes: 'sz',
    codec: 'c',
    payload: 'p',
    writerId: 'w',
    appendedAt: 'a',
    expiresAt: 'x',
    previousBase: 'r',
    txn: 'tx',
    control: 'ct',
    /** A pointer to the payload in S3 (`storage: 's3'` topics): object key, position, length, CRC32C. */
    pointerKey: 'ok',
    pointerPosition: 'op',
    pointerLength: 'ol',
    pointerCrc: 'oc',
  },
  /** DynamoDB's time-to-live attribute (epoch seconds): hot copies expire after the roller tiered them. */
  timeToLive: 'x',
} as const;

export const METADATA_TABLE = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  /** DynamoDB's time-to-live attribute (epoch seconds), on items that may expire: idempotent-producer states, watchers. */
  timeToLive: 'x',
} as const;

/**
 * The time index (see core/log/timeIndex.ts): a sparse global secondary index of the same name on
 * both tables, keyed by the table's partition key and `tk`, which only mark batches (log table)
 * and segments (metadata table) carry. Keys only: a look-up needs nothing but the key.
 */
export const TIME_INDEX = {
  name: 'time',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'tk', type: 'S' },
} as const;

const pad = (n: number, digits: number): string => String(n).padStart(digits, '0');

/**
 * Time index sort keys: zero-padded numbers, so that lexical order is numeric order. Timestamps
 * have at most 16 digits (MAX_TIMESTAMP), offsets at most 20. The entry's end offset comes last,
 * so that entries with the same running maximum sort in offset order.
 */
export const timeIndexKeys = {
  /** A mark batch: its chain's start, the chain's running maximum timestamp, the batch's end. */
  mark: (chainStart: number, maxTimestamp: number, end: number) =>
    `${pad(chainStart, 20)}${pad(maxTimestamp, 16)}${pad(end, 20)}`,
  /** The marks of one chain whose running maximum is below `timestamp` sort between these. */
  markRange: (chainStart: number, timestamp: number) => ({
    from: pad(chainStart, 20),
    below: `${pad(chainStart, 20)}${pad(timestamp, 16)}`,
  }),
  /** A segment: its running maximum timestamp, its end. */
  segment: (runningMaxTimestamp: number, end: number) => `${pad(runningMaxTimestamp, 16)}${pad(end, 20)}`,
  /** Segments whose running maximum is below `timestamp` sort before this. */
  segmentBelow: (timestamp: number) => pad(timestamp, 16),
  /** The running maximum and end offset a key of either kind records. */
  parse: (key: string): { maxTimestamp: number; end: number } => ({
    maxTimestamp: Number(key.slice(-36, -20)),
    end: Number(key.slice(-20)),
  }),
  /** A mark's chain start and running maximum. */
  parseMark: (key: string): { chainStart: number; maxTimestamp: number } => ({
    chainStart: Number(key.slice(0, 20)),
    maxTimestamp: Number(key.slice(20, 36)),
  }),
} as const;

/** Key builders for the metadata table's item kinds. */
export const metadataKeys = {
  /** All topics share one partition key so that listing them is one Query. */
  topic: (name: string) => ({ pk: 'topic', sk: name }),
  /** A deleted topic whose data the roller has yet to remove, by topic id. */
  deletedTopic: (topicId: string) => ({ pk: 'deleted-topic', sk: topicId }),
  deletedTopics: 'deleted-topic',
  topicsPartition: 'topic',
  partitionState: (log: string) => ({ pk: `log#${log}`, sk: 'state' }),
  /** A partition's offset sequencer: the next offset to hand out (an atomic counter). */
  sequencer: (log: string) => ({ pk: `log#${log}`, sk: 'next' }),
  /** A partition's segments, sorted by their 20-digit base offsets. */
  segment: (log: string, base: number) => ({ pk: `segments#${log}`, sk: String(base).padStart(20, '0') }),
  segmentsPartition: (log: string) => `segments#${log}`,
  producer: (producerId: string, log: string) => ({ pk: `producer#${producerId}`, sk: log }),
  /** A consumer group's items share one partition key, so one Query reads the whole group. */
  groupPartition: (group: string) => `group#${group}`,
  groupMeta: (group: string) => ({ pk: `group#${group}`, sk: 'meta' }),
  groupMember: (group: string, memberId: string) => ({ pk: `group#${group}`, sk: `member#${memberId}` }),
  groupOffset: (group: string, key: string) => ({ pk: `group#${group}`, sk: `offset#${key}` }),
  /** All groups are listed under one partition key, like topics. */
  groupRegistry: (group: string) => ({ pk: 'group', sk: group }),
  groupsPartition: 'group',
  /** A saga's executions share one partition key, sorted by execution id. */
  sagaExecution: (saga: string, executionId: string) => ({ pk: `saga#${saga}`, sk: `exec#${executionId}` }),
  sagaPartition: (saga: string) => `saga#${saga}`,
  /** A share group's items (settings, members, per partition a cursor and chunks) share one partition key. */
  shareGroupPartition: (group: string) => `share#${group}`,
  /** All share groups are listed under one partition key. */
  shareGroupRegistry: (group: string) => ({ pk: 'share-group', sk: group }),
  shareGroupsPartition: 'share-group',
  /** How far a dead-letter topic's partition has been redriven (the next offset to redrive). */
  redrivePosition: (topicId: string, partition: number) => ({ pk: `redrive#${topicId}`, sk: String(partition) }),
  /** Access-control rules share one partition key, so one Query reads them all; by rule id. */
  acl: (ruleId: string) => ({ pk: 'acl', sk: ruleId }),
  aclPartition: 'acl',
  /** All exchanges are listed under one partition key, like topics and groups: name → declaration. */
  exchangeRegistry: (exchange: string) => ({ pk: 'exchange', sk: exchange }),
  exchangesPartition: 'exchange',
  /** An exchange's items share one partition key, so one Query reads its declaration and every binding. */
  exchangePartition: (exchange: string) => `exchange#${exchange}`,
  exchangeMeta: (exchange: string) => ({ pk: `exchange#${exchange}`, sk: 'meta' }),
  exchangeBinding: (exchange: string, bindingId: string) => ({
    pk: `exchange#${exchange}`,
    sk: `binding#${bindingId}`,
  }),
  /** Under a destination exchange, a reference to a binding of another exchange to it (removed with it). */
  exchangeInbound: (exchange: string, source: string, bindingId: string) => ({
    pk: `exchange#${exchange}`,
    sk: `inbound#${source}#${bindingId}`,
  }),
  /** All subscriptions are listed under one partition key, each item its whole definition. */
  subscription: (name: string) => ({ pk: 'subscription', sk: name }),
  subscriptionsPartition: 'subscription',
  /** A subscription's delivery state (`p#<partition>`) and quarantined keys (`q#<partition>#<keyId>`). */
  subscriptionStatePartition: (name: string) => `sub#${name}`,
  /**
   * WebSocket watchers of a topic incarnation (core/subscriptions/watchers.ts): one item per
   * connection under `watch#<topicId>`, so ringing a topic's watchers is one Query whatever the
   * number of topics or connections elsewhere.
   */
  watcher: (topicId: string, connectionId: string) => ({ pk: `watch#${topicId}`, sk: connectionId }),
  watchersPartition: (topicId: string) => `watch#${topicId}`,
  /** A WebSocket connection: its caller's principals and the topic ids it watches. */
  watchConnection: (connectionId: string) => ({ pk: `ws#${connectionId}`, sk: 'conn' }),
  /** A transactional producer's state: its epoch, its open transaction, its last one (for retries). */
  transactionalProducer: (transactionalId: string) => ({ pk: `txn#${transactionalId}`, sk: 'state' }),
  /** A decided multi-request transaction's outcome, by epoch and sequence (immutable once written). */
  transactionOutcome: (transactionalId: string, epoch: number, sequence: number) => ({
    pk: `txn#${transactionalId}`,
    sk: `o#${String(epoch).padStart(10, '0')}#${String(sequence).padStart(12, '0')}`,
  }),
  /** A transaction open on a partition, with its first offset there: what the last stable offset is. */
  openTransaction: (log: string, txn: string) => ({ pk: `log#${log}`, sk: `txn#${txn}` }),
  openTransactionsPrefix: 'txn#',
  /**
   * An event stream's items (core/eventStore) share one partition key: its head (version, last
   * timestamp, latest snapshots), one index entry per append keyed by the append's LAST version
   * (so the entry holding version v is the first at or after `v`: one Query from any version),
   * and snapshots per reducer by version.
   */
  eventStream: (streamId: string) => `stream#${streamId}`,
  eventStreamHead: (streamId: string) => ({ pk: `stream#${streamId}`, sk: 'head' }),
  eventStreamEntry: (streamId: string, lastVersion: number) => ({
    pk: `stream#${streamId}`,
    sk: `e#${String(lastVersion).padStart(20, '0')}`,
  }),
  eventStreamEntryPrefix: 'e#',
  eventStreamSnapshot: (streamId: string, reducer: string, version: number) => ({
    pk: `stream#${streamId}`,
    sk: `s#${reducer}#${String(version).padStart(20, '0')}`,
  }),
  eventStreamSnapshotPrefix: (reducer: string) => `s#${reducer}#`,
  /** A projection's checkpoint on one partition of the event store's topic (the next offset to apply). */
  projectionCheckpoint: (projection: string, partition: number) => ({
    pk: `projection#${projection}`,
    sk: `p#${String(partition).padStart(4, '0')}`,
  }),
  projectionPartition: (projection: string) => `projection#${projection}`,
  /**
   * A stream job’s state head (core/streams/stateLayout.ts): watermark, per input partition the
   * next offset, the manifest of its chunk items (`sk` `chunk#<id>`, same partition key), and a
   * version every commit raises.
   */
  jobState: (job: string) => ({ pk: `job#${job}`, sk: 'state' }),
  /** One item per stream job, written with its first commit: what `sluice jobs list` pages through. */
  jobRegistry: (job: string) => ({ pk: 'jobs', sk: job }),
  jobRegistryPartition: 'jobs',
  /** Short-lived exclusive rights (a saga trigger's drain, a subscription's dispatcher). */
  lease: (name: string) => ({ pk: 'lease', sk: name }),
} as const;

export interface TableNames {
  readonly log: string;
  readonly metadata: string;
}

/** Table names as the Lambda functions and the local stack read them from the environment. */
export const TABLE_NAME_ENV = { log: 'SLUICE_LOG_TABLE', metadata: 'SLUICE_METADATA_TABLE' } as const;
