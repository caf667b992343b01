import { Connection, type ConnectionOptions } from './http.ts';
import type { Subscription, SubscriptionChanges, SubscriptionDescription, SubscriptionSpec } from './subscriptions.ts';

export interface TopicConfig {
  partitions?: number;
  retentionMs?: number;
  retentionBytes?: number;
  maxRecordBytes?: number;
  compression?: 'none' | 'gzip' | 'zstd';
  cleanupPolicy?: 'delete' | 'compact';
  hotRetentionMs?: number;
  hotRetentionBytes?: number;
  deleteRetentionMs?: number;
  segmentBytes?: number;
  /** Where record bytes go: `dynamodb` (lowest latency) or `s3` (lowest cost per message). */
  storage?: 'dynamodb' | 's3' | 's3-express';
  timestampBeforeMaxMs?: number;
  timestampAfterMaxMs?: number;
}

export interface TopicSummary {
  name: string;
  topicId: string;
  config: Required<TopicConfig>;
  createdAt: number;
}

export interface TopicDescription extends TopicSummary {
  partitions: {
    partition: number;
    logStartOffset: number;
    highWatermark: number;
    tieredThrough: number;
    /** Absent until the roller has counted a partition rolled before these figures existed. */
    tieredBytes?: number;
    segments?: number;
    /** Only with `sizes: true`. */
    hotBytes?: number;
    /** Where `read_committed` consumers stop: the first offset of the oldest open transaction, else the high watermark. */
    lastStableOffset?: number;
    /** Multi-request transactions open on the partition, with their first offsets. */
    openTransactions?: { transactionalId: string; firstOffset: number }[];
  }[];
}

/** An ACL rule (see the README's Authorization): who may or may not do what to which resources. */
export interface AclRule {
  principal: string;
  resourceType:
    'topic' | 'group' | 'shareGroup' | 'exchange' | 'subscription' | 'saga' | 'job' | 'transactionalId' | 'cluster';
  resourceName: string;
  /** @default 'literal' */
  patternType?: 'literal' | 'prefixed';
  operation: 'read' | 'write' | 'create' | 'delete' | 'alter' | 'describe' | 'all';
  /** @default 'allow' */
  permission?: 'allow' | 'deny';
}

export interface StoredAclRule extends Required<AclRule> {
  id: string;
}

/** A share group's settings, fixed when it was created (by its first join, or by a queue's declaration). */
export interface ShareGroupSettings {
  name: string;
  start: 'earliest' | 'latest';
  lockMs: number;
  deliveryLimit: number;
  maxInFlight: number;
  deadLetterTopic?: string;
  /** Archived records are published here, with RabbitMQ's `x-death` headers. */
  deadLetterExchange?: string;
  deadLetterRoutingKey?: string;
  /** A record this long past its timestamp is dead-lettered (`expired`) instead of delivered. */
  messageTtlMs?: number;
  /** Declared as a queue (`declareQueue`). */
  queue?: boolean;
  maxLength?: number;
  overflow?: 'drop-head' | 'reject-publish';
  topics?: string[];
  createdAt: number;
}

export interface ShareGroupDescription {
  group: string;
  settings: ShareGroupSettings;
  members: { memberId: string; topics: string[]; joinedAt: number; expiresAt: number }[];
  partitions: {
    topic: string;
    partition: number;
    startOffset: number;
    nextOffset: number;
    highWatermark: number;
    inFlight: number;
    acquired: number;
    available: number;
    archived: number;
    lag: number;
  }[];
}

/**
 * A queue's declaration, in RabbitMQ's terms: a one-partition topic and a share group, both named
 * `name`. Consume it with a `ShareConsumer` (group and topic `name`); publish by producing to topic
 * `name` or through an exchange bound to it.
 */
export interface QueueDeclaration {
  name: string;
  /** `x-message-ttl`: older messages are dead-lettered (`expired`) instead of delivered. */
  messageTtlMs?: number;
  /** `x-max-length`: messages ready and unacknowledged; over it, `overflow` applies. */
  maxLength?: number;
  /** `x-overflow` (only with `maxLength`). @default 'drop-head' */
  overflow?: 'drop-head' | 'reject-publish';
  /** `x-dead-letter-exchange`: dead letters are published here, with `x-death` headers. */
  deadLetterExchange?: string;
  /** `x-dead-letter-routing-key` (default: the message's own routing key, else the queue's name). */
  deadLetterRoutingKey?: string;
  /** Or a topic dead letters are appended to (not with `deadLetterExchange`). */
  deadLetterTopic?: string;
  /** `x-delivery-limit`: deliveries before a message is dead-lettered. @default 5 */
  deliveryLimit?: number;
  /** How long a delivered message is locked to its consumer. @default 30000 */
  lockMs?: number;
  /** @default 2000 */
  maxInFlight?: number;
}

/** A queue's settings and counts, in RabbitMQ's terms. */
export interface QueueDescription {
  name: string;
  settings: ShareGroupSettings;
  /** Ready and unacknowledged (RabbitMQ's `messages`). */
  messages: number;
  /** RabbitMQ's `messages_ready`. */
  ready: number;
  /** Delivered, not yet acknowledged (RabbitMQ's `messages_unacknowledged`). */
  unacknowledged: number;
  /** Archived (and dead-lettered, when the queue names where to). */
  archived: number;
  /** Live consumers (share-group members). */
  consumers: number;
}

const topicPath = (name: string): string => `v1/topics/${encodeURIComponent(name)}`;
const queuePath = (name: string): string => `v1/queues/${encodeURIComponent(name)}`;
const subscriptionPath = (name: string): string => `v1/subscriptions/${encodeURIComponent(name)}`;

/** Topic administration over the HTTP API. */
export class Admin {
  private readonly http: Connection;
  constructor(options: ConnectionOptions | Connection) {
    this.http = options instanceof Connection ? options : new Connection(options);
  }

  createTopic(name: string, options: { partitions?: number; config?: TopicConfig } = {}): Promise<TopicDescription> {
    return this.http.request('POST', 'v1/topics', { body: { name, ...options } });
  }

  async listTopics(): Promise<TopicSummary[]> {
    return (await this.http.request<{ topics: TopicSummary[] }>('GET', 'v1/topics')).topics;
  }

  /**
   * The topic and, per partition, its offsets and segment figures (a fixed cost per partition).
   * `offsets: false` reads the topic record only; `sizes: true` adds hot bytes (a scan of the hot tier).
   */
  describeTopic(name: string, options: { offsets: false }): Promise<TopicSummary>;
  describeTopic(name: string, options?: { sizes?: boolean }): Promise<TopicDescription>;
  describeTopic(
    name: string,
    options: { offsets?: boolean; sizes?: boolean } = {},
  ): Promise<TopicSummary | TopicDescription> {
    const query = {
      ...(options.offsets === false ? { offsets: 'false' } : {}),
      ...(options.sizes === true ? { sizes: 'true' } : {}),
    };
    return this.http.request('GET', topicPath(name), { query });
  }

  updateTopic(name: string, changes: { partitions?: number; config?: TopicConfig }): Promise<TopicDescription> {
    return this.http.request('PATCH', topicPath(name), { body: changes });
  }

  /** Deletes the records of a partition before an offset; returns the new log start offset. */
  deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<{ logStartOffset: number }> {
    return this.http.request('POST', `${topicPath(topic)}/partitions/${partition}/delete-records`, {
      body: { beforeOffset },
    });
  }

  async deleteTopic(name: string): Promise<void> {
    await this.http.request('DELETE', topicPath(name));
  }

  /** Share groups (queues) the caller may describe. */
  async listShareGroups(): Promise<string[]> {
    return (await this.http.request<{ groups: string[] }>('GET', 'v1/share-groups')).groups;
  }

  /** Settings, live members, and per partition what is done, in flight, available and archived. */
  describeShareGroup(group: string): Promise<ShareGroupDescription> {
    return this.http.request('GET', `v1/share-groups/${encodeURIComponent(group)}`);
  }

  /**
   * Re-appends dead letters of `dlq`, oldest first, to their original topics (or `toTopic`), each
   * once even if repeated, with a `redriven_from` header and without the failure headers.
   */
  redrive(
    dlq: string,
    options: { maxRecords?: number; toTopic?: string } = {},
  ): Promise<{
    redriven: {
      from: { partition: number; offset: number };
      to?: { topic: string; partition: number; offset: number };
      skipped?: string;
    }[];
    remaining: number;
  }> {
    return this.http.request('POST', `${topicPath(dlq)}/redrive`, { body: options });
  }

  /** Deletes a share group without live members. */
  async deleteShareGroup(group: string): Promise<void> {
    await this.http.request('DELETE', `v1/share-groups/${encodeURIComponent(group)}`);
  }

  /**
   * Declares a queue (RabbitMQ's `queue.declare`). Declaring it again as it is changes nothing
   * (`created: false`); differently, or over a topic or share group that is not a queue, is a
   * 409 `QueueConflict`.
   */
  async declareQueue(declaration: QueueDeclaration): Promise<{ queue: QueueDescription; created: boolean }> {
    const { status, body } = await this.http.requestWithStatus<QueueDescription>('POST', 'v1/queues', {
      body: declaration,
    });
    return { queue: body, created: status === 201 };
  }

  /** The queues the caller may describe. */
  async listQueues(): Promise<string[]> {
    return (await this.http.request<{ queues: string[] }>('GET', 'v1/queues')).queues;
  }

  /** Settings and counts: messages (ready and unacknowledged), archived, consumers. */
  describeQueue(name: string): Promise<QueueDescription> {
    return this.http.request('GET', queuePath(name));
  }

  /** Deletes a queue without live consumers: its share group and its topic. */
  async deleteQueue(name: string): Promise<void> {
    await this.http.request('DELETE', queuePath(name));
  }

  /**
   * Creates a subscription: push delivery of a topic's records to a Lambda function or an HTTPS
   * endpoint (see the README's Subscriptions). Its topic (and `onFailure` topic) must exist; one of
   * the same name is a 409 `SubscriptionAlreadyExists`.
   */
  createSubscription(spec: SubscriptionSpec): Promise<Subscription> {
    return this.http.request('POST', 'v1/subscriptions', { body: spec });
  }

  /** The subscriptions the caller may describe. */
  async listSubscriptions(): Promise<Subscription[]> {
    return (await this.http.request<{ subscriptions: Subscription[] }>('GET', 'v1/subscriptions')).subscriptions;
  }

  /** The settings, per partition the position, lag, retry in flight and counts, and the quarantined keys. */
  describeSubscription(name: string): Promise<SubscriptionDescription> {
    return this.http.request('GET', subscriptionPath(name));
  }

  /** Changes settings (`null` removes the filter or `onFailure`); the name, topic and starting position stay. */
  updateSubscription(name: string, changes: SubscriptionChanges): Promise<Subscription> {
    return this.http.request('PATCH', subscriptionPath(name), { body: changes });
  }

  /** Stops delivery (positions are kept; the dispatcher leaves the group, so its offsets can be reset). */
  pauseSubscription(name: string): Promise<Subscription> {
    return this.updateSubscription(name, { paused: true });
  }

  /** Delivers again from the positions where it was paused. */
  resumeSubscription(name: string): Promise<Subscription> {
    return this.updateSubscription(name, { paused: false });
  }

  /** Deletes the subscription, its delivery state and (once the dispatcher has left it) its group. */
  async deleteSubscription(name: string): Promise<void> {
    await this.http.request('DELETE', subscriptionPath(name));
  }

  /**
   * Releases a quarantined key (as text, as `describeSubscription` shows it): its parked records
   * are delivered again, in order, then the key flows. 404 `KeyNotQuarantined` when no partition
   * has it parked.
   */
  releaseKey(name: string, key: string): Promise<{ partitions: number[]; records: number }> {
    return this.http.request('POST', `${subscriptionPath(name)}/quarantine/${encodeURIComponent(key)}/release`);
  }

  /** Skips a quarantined key: its parked records are dead-lettered (or dropped without `onFailure`), and the key flows. */
  skipKey(name: string, key: string): Promise<{ partitions: number[]; records: number }> {
    return this.http.request('POST', `${subscriptionPath(name)}/quarantine/${encodeURIComponent(key)}/skip`);
  }

  /** The ACL rules, optionally only those with these exact field values. */
  async listAcls(
    filter: { principal?: string; resourceType?: AclRule['resourceType']; resourceName?: string } = {},
  ): Promise<StoredAclRule[]> {
    return (await this.http.request<{ acls: StoredAclRule[] }>('GET', 'v1/acls', { query: filter })).acls;
  }

  /** Adds a rule (adding an equal rule again changes nothing: `created: false`). */
  addAcl(rule: AclRule): Promise<{ acl: StoredAclRule; created: boolean }> {
    return this.http.request('POST', 'v1/acls', { body: rule });
  }

  /** Removes the rule equal to this one; false when there was none. */
  async removeAcl(rule: AclRule): Promise<boolean> {
    return (await this.http.request<{ deleted: boolean }>('DELETE', 'v1/acls', { body: rule })).deleted;
  }

  /** `earliest`, `latest`, or the earliest offset at or after an epoch-ms timestamp. */
  async offset(topic: string, partition: number, at: 'earliest' | 'latest' | number): Promise<number> {
    return (
      await this.http.request<{ offset: number }>('GET', `${topicPath(topic)}/partitions/${partition}/offsets`, {
        query: { at },
      })
    ).offset;
  }
}
