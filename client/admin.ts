import { Connection, type ConnectionOptions } from './http.ts';

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
}

export interface TopicDescription {
  name: string;
  topicId: string;
  config: Required<TopicConfig>;
  createdAt: number;
  partitions: {
    partition: number;
    logStartOffset: number;
    highWatermark: number;
    tieredThrough: number;
    hotBytes: number;
    tieredBytes: number;
    segments: number;
  }[];
}

const topicPath = (name: string): string => `v1/topics/${encodeURIComponent(name)}`;

/** Topic administration over the HTTP API. */
export class Admin {
  private readonly http: Connection;
  constructor(options: ConnectionOptions | Connection) {
    this.http = options instanceof Connection ? options : new Connection(options);
  }

  createTopic(name: string, options: { partitions?: number; config?: TopicConfig } = {}): Promise<TopicDescription> {
    return this.http.request('POST', 'v1/topics', { body: { name, ...options } });
  }

  async listTopics(): Promise<Omit<TopicDescription, 'partitions'>[]> {
    return (await this.http.request<{ topics: Omit<TopicDescription, 'partitions'>[] }>('GET', 'v1/topics')).topics;
  }

  describeTopic(name: string): Promise<TopicDescription> {
    return this.http.request('GET', topicPath(name));
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

  /** `earliest`, `latest`, or the earliest offset at or after an epoch-ms timestamp. */
  async offset(topic: string, partition: number, at: 'earliest' | 'latest' | number): Promise<number> {
    return (
      await this.http.request<{ offset: number }>('GET', `${topicPath(topic)}/partitions/${partition}/offsets`, {
        query: { at },
      })
    ).offset;
  }
}
