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
  },
  /** DynamoDB's time-to-live attribute (epoch seconds): hot copies expire after the roller tiered them. */
  timeToLive: 'x',
} as const;

export const METADATA_TABLE = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  /** DynamoDB's time-to-live attribute (epoch seconds), on items that may expire: idempotent-producer states. */
  timeToLive: 'x',
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
  /** Short-lived exclusive rights (a saga trigger's drain). */
  lease: (name: string) => ({ pk: 'lease', sk: name }),
} as const;

export interface TableNames {
  readonly log: string;
  readonly metadata: string;
}

/** Table names as the Lambda functions and the local stack read them from the environment. */
export const TABLE_NAME_ENV = { log: 'SLUICE_LOG_TABLE', metadata: 'SLUICE_METADATA_TABLE' } as const;
