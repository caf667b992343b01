import { TopicAlreadyExists, TopicConflict, TopicNotFound } from '../../errors.ts';
import type {
  BatchPage,
  LogStore,
  MetadataStore,
  PartitionState,
  ProducerState,
  ProducerStateWrite,
  PutBatchResult,
  SegmentRecord,
  StoredBatch,
  TieringStore,
  TopicRecord,
} from '../../ports.ts';

const EMPTY_STATE: PartitionState = { logStartOffset: 0, tieredThrough: 0, version: 0 };

/**
 * In-memory storage with the same rules as the DynamoDB adapter (and the same contract tests).
 * Every method yields to the event loop once, so concurrent callers interleave as they would
 * against a real store. Values are copied in and out so callers cannot mutate stored state.
 */
export class MemoryStore implements LogStore, MetadataStore, TieringStore {
  private readonly logs = new Map<string, StoredBatch[]>();
  private readonly topics = new Map<string, TopicRecord>();
  private readonly producers = new Map<string, ProducerState>();
  private readonly partitionStates = new Map<string, PartitionState>();
  private readonly segments = new Map<string, SegmentRecord[]>();

  async putBatch(batch: StoredBatch, producer?: ProducerStateWrite): Promise<PutBatchResult> {
    await tick();
    const batches = this.logs.get(batch.log) ?? [];
    const existing = batches.find((b) => b.baseOffset === batch.baseOffset);
    if (existing !== undefined) return { outcome: 'offset-taken', existing: copyBatch(existing) };
    if (producer !== undefined) {
      const current = this.producers.get(producerKey(producer.producerId, producer.log));
      if (current?.version !== producer.expectedVersion) return { outcome: 'producer-state-changed' };
      this.producers.set(producerKey(producer.producerId, producer.log), structuredClone(producer.next));
    }
    batches.push(copyBatch(batch));
    batches.sort((a, b) => a.baseOffset - b.baseOffset);
    this.logs.set(batch.log, batches);
    return { outcome: 'written' };
  }

  async lastBatch(log: string): Promise<StoredBatch | undefined> {
    await tick();
    const last = this.logs.get(log)?.at(-1);
    return last === undefined ? undefined : copyBatch(last);
  }

  async readBatches(log: string, fromOffset: number, maxBatches: number): Promise<BatchPage> {
    await tick();
    const batches = this.logs.get(log) ?? [];
    const start = batches.findIndex((b) => b.baseOffset + b.recordCount > fromOffset);
    if (start === -1) return { batches: [], reachedEnd: true };
    // The batch containing fromOffset (if any) plus up to maxBatches starting at or after it, as the
    // DynamoDB adapter's two queries return them.
    const containing = batches[start]!.baseOffset < fromOffset ? 1 : 0;
    const page = batches.slice(start, start + containing + maxBatches);
    return { batches: page.map(copyBatch), reachedEnd: start + page.length >= batches.length };
  }

  async scanBatchHeaders(log: string, fromOffset: number, maxBatches: number): Promise<BatchPage> {
    const page = await this.readBatches(log, fromOffset, maxBatches);
    return { ...page, batches: page.batches.map((b) => ({ ...b, payload: new Uint8Array(0) })) };
  }

  async deleteLog(log: string): Promise<void> {
    await tick();
    this.logs.delete(log);
  }

  async createTopic(topic: TopicRecord): Promise<void> {
    await tick();
    if (this.topics.has(topic.name)) throw new TopicAlreadyExists(topic.name);
    this.topics.set(topic.name, structuredClone(topic));
  }

  async getTopic(name: string): Promise<TopicRecord | undefined> {
    await tick();
    const topic = this.topics.get(name);
    return topic === undefined ? undefined : structuredClone(topic);
  }

  async listTopics(): Promise<TopicRecord[]> {
    await tick();
    return [...this.topics.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((t) => structuredClone(t));
  }

  async updateTopic(next: TopicRecord): Promise<void> {
    await tick();
    const current = this.topics.get(next.name);
    if (current === undefined || current.topicId !== next.topicId) throw new TopicNotFound(next.name);
    if (current.version !== next.version - 1) throw new TopicConflict(next.name);
    this.topics.set(next.name, structuredClone(next));
  }

  async deleteTopic(name: string, topicId: string): Promise<void> {
    await tick();
    if (this.topics.get(name)?.topicId !== topicId) throw new TopicNotFound(name);
    this.topics.delete(name);
  }

  async getPartitionState(log: string): Promise<PartitionState> {
    await tick();
    return structuredClone(this.partitionStates.get(log) ?? EMPTY_STATE);
  }

  private stateIs(log: string, version: number): boolean {
    return (this.partitionStates.get(log)?.version ?? 0) === version;
  }

  async setPartitionState(log: string, next: PartitionState): Promise<boolean> {
    await tick();
    if (!this.stateIs(log, next.version - 1)) return false;
    this.partitionStates.set(log, structuredClone(next));
    return true;
  }

  async recordSegment(segment: SegmentRecord, next: PartitionState): Promise<boolean> {
    await tick();
    const list = this.segments.get(segment.log) ?? [];
    if (!this.stateIs(segment.log, next.version - 1) || list.some((s) => s.base === segment.base)) return false;
    this.segments.set(
      segment.log,
      [...list, structuredClone(segment)].sort((a, b) => a.base - b.base),
    );
    this.partitionStates.set(segment.log, structuredClone(next));
    return true;
  }

  async listSegments(log: string): Promise<SegmentRecord[]> {
    await tick();
    return structuredClone(this.segments.get(log) ?? []);
  }

  async dropSegments(log: string, bases: readonly number[], next: PartitionState): Promise<boolean> {
    await tick();
    if (!this.stateIs(log, next.version - 1)) return false;
    this.segments.set(
      log,
      (this.segments.get(log) ?? []).filter((s) => !bases.includes(s.base)),
    );
    this.partitionStates.set(log, structuredClone(next));
    return true;
  }

  async replaceSegment(next: SegmentRecord, previousKey: string): Promise<boolean> {
    await tick();
    const list = this.segments.get(next.log) ?? [];
    const i = list.findIndex((s) => s.base === next.base && s.key === previousKey);
    if (i === -1) return false;
    list[i] = structuredClone(next);
    return true;
  }

  async deleteBatches(log: string, baseOffsets: readonly number[]): Promise<void> {
    await tick();
    this.logs.set(
      log,
      (this.logs.get(log) ?? []).filter((b) => !baseOffsets.includes(b.baseOffset)),
    );
  }

  async getProducerState(producerId: string, log: string): Promise<ProducerState | undefined> {
    await tick();
    const state = this.producers.get(producerKey(producerId, log));
    return state === undefined ? undefined : structuredClone(state);
  }
}

function producerKey(producerId: string, log: string): string {
  return `${producerId}\u0000${log}`;
}

function copyBatch(b: StoredBatch): StoredBatch {
  return { ...b, payload: Uint8Array.from(b.payload) };
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
