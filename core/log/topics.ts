import { randomUUID } from 'node:crypto';
import { InvalidArgument, InvalidTopicConfig, PartitionNotFound, TopicNotFound, isSluiceError } from '../errors.ts';
import { logKey, type MetadataStore, type TopicRecord } from '../ports.ts';
import { resolveTopicConfig, validateTopicName, type Storage, type TopicConfig } from './topicConfig.ts';

export interface CreateTopicOptions {
  readonly partitions?: number;
  readonly config?: Partial<TopicConfig>;
}

/**
 * Topic records and a short-lived cache of them in this process, so that appends and reads do not
 * read the topic on every call. Partition increases made elsewhere show within `cacheMs`; a
 * partition number beyond the cached count is always checked against a fresh read.
 */
export class TopicCatalog {
  private readonly topics = new Map<string, { topic: TopicRecord; until: number }>();

  private readonly metadata: MetadataStore;
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly defaults: TopicConfig;
  /** Storage kinds this deployment cannot hold (`s3-express` without a directory bucket). */
  private readonly unavailable: readonly Storage[];

  constructor(
    metadata: MetadataStore,
    now: () => number,
    cacheMs: number,
    defaults?: unknown,
    unavailable: readonly Storage[] = [],
  ) {
    this.metadata = metadata;
    this.now = now;
    this.cacheMs = cacheMs;
    this.defaults = resolveTopicConfig(defaults);
    this.unavailable = unavailable;
  }

  /** Refuses a config whose storage this deployment does not have (checked when it is set). */
  private checkStorage(config: TopicConfig): void {
    const storage = config.storage ?? 'dynamodb';
    if (this.unavailable.includes(storage)) {
      throw new InvalidTopicConfig(
        'storage',
        `storage ${storage} needs an S3 Express One Zone directory bucket, which this deployment does not have (the stack’s expressZone prop)`,
      );
    }
  }

  async create(name: string, options: CreateTopicOptions = {}): Promise<TopicRecord> {
    validateTopicName(name);
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgument('options', 'options must be an object');
    const config = resolveTopicConfig(
      {
        ...(options.config ?? {}),
        ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
      },
      this.defaults,
    );
    this.checkStorage(config);
    const topic: TopicRecord = {
      name,
      topicId: randomUUID().replaceAll('-', ''),
      config,
      createdAt: this.now(),
      version: 1,
    };
    await this.metadata.createTopic(topic);
    this.remember(topic);
    return topic;
  }

  list(): Promise<TopicRecord[]> {
    return this.metadata.listTopics();
  }

  /**
   * Changes a topic's config. Partitions may only grow (as in Kafka, keyed records may then map
   * to other partitions than before).
   */
  async update(name: string, changes: CreateTopicOptions): Promise<TopicRecord> {
    if (typeof changes !== 'object' || changes === null)
      throw new InvalidArgument('changes', 'changes must be an object');
    const current = await this.get(name, { fresh: true });
    const config = resolveTopicConfig(
      { ...(changes.config ?? {}), ...(changes.partitions === undefined ? {} : { partitions: changes.partitions }) },
      current.config,
    );
    if (config.partitions < current.config.partitions) {
      throw new InvalidTopicConfig(
        'partitions',
        `partitions can only grow: ${name} has ${current.config.partitions}, asked for ${config.partitions}`,
      );
    }
    if (config.storage !== current.config.storage) this.checkStorage(config);
    const next: TopicRecord = { ...current, config, version: current.version + 1 };
    await this.metadata.updateTopic(next);
    this.remember(next);
    return next;
  }

  /**
   * Removes the topic record and records the deletion for the roller, which removes the data
   * later (the log keys carry the topic id, so a topic created again under the name starts empty).
   */
  async delete(topic: TopicRecord): Promise<void> {
    await this.metadata.deleteTopic(topic.name, topic.topicId, {
      name: topic.name,
      topicId: topic.topicId,
      partitions: topic.config.partitions,
      deletedAt: this.now(),
    });
    this.topics.delete(topic.name);
  }

  /** The topic, from the cache unless `fresh`; `TopicNotFound` when it does not exist. */
  async get(name: string, { fresh = false } = {}): Promise<TopicRecord> {
    validateTopicName(name);
    const cached = this.topics.get(name);
    if (!fresh && cached !== undefined && cached.until > this.now()) return cached.topic;
    const topic = await this.metadata.getTopic(name);
    if (topic === undefined) {
      this.topics.delete(name);
      throw new TopicNotFound(name);
    }
    this.remember(topic);
    return topic;
  }

  /** The topics of `names` that exist (others are left out). */
  async existing(names: readonly string[]): Promise<Map<string, TopicRecord>> {
    const out = new Map<string, TopicRecord>();
    await Promise.all(
      [...new Set(names)].map(async (name) => {
        try {
          out.set(name, await this.get(name));
        } catch (e) {
          if (!isSluiceError(e, 'TopicNotFound')) throw e;
        }
      }),
    );
    return out;
  }

  /** The log key of a partition, checking the partition exists (with a fresh read before refusing). */
  async partitionLog(topic: TopicRecord, partition: number): Promise<string> {
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new InvalidArgument('partition', 'partition must be a non-negative integer');
    }
    if (partition >= topic.config.partitions) {
      const fresh = await this.get(topic.name, { fresh: true });
      if (partition >= fresh.config.partitions)
        throw new PartitionNotFound(topic.name, partition, fresh.config.partitions);
    }
    return logKey(topic.topicId, partition);
  }

  private remember(topic: TopicRecord): void {
    this.topics.set(topic.name, { topic, until: this.now() + this.cacheMs });
  }
}
