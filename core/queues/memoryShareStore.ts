import type { Chunk } from './shareState.ts';
import type {
  PartitionWrite,
  ShareCursor,
  ShareGroupSettings,
  ShareMember,
  SharePartition,
  ShareStore,
} from './shareStore.ts';

interface StoredGroup {
  readonly settings: ShareGroupSettings;
  readonly members: Map<string, ShareMember>;
  readonly cursors: Map<string, ShareCursor>;
  readonly chunks: Map<string, Map<number, Chunk>>;
}

const tick = () => new Promise((r) => setImmediate(r));

/** Share groups in memory, with DynamoDB's conditional semantics (tests and the bench). */
export class MemoryShareStore implements ShareStore {
  private readonly groups = new Map<string, StoredGroup>();
  /** Reads and writes of partition items, as DynamoDB requests (tests count them). */
  readonly requests = { reads: 0, writes: 0 };

  async getGroup(group: string): Promise<ShareGroupSettings | undefined> {
    await tick();
    return structuredClone(this.groups.get(group)?.settings);
  }

  async createGroup(settings: ShareGroupSettings): Promise<ShareGroupSettings> {
    await tick();
    const existing = this.groups.get(settings.name);
    if (existing !== undefined) return structuredClone(existing.settings);
    this.groups.set(settings.name, {
      settings: structuredClone(settings),
      members: new Map(),
      cursors: new Map(),
      chunks: new Map(),
    });
    return structuredClone(settings);
  }

  async listGroups(): Promise<string[]> {
    await tick();
    return [...this.groups.keys()].sort();
  }

  async addTopics(group: string, topics: readonly string[]): Promise<void> {
    await tick();
    const g = this.groups.get(group);
    if (g === undefined) return;
    const settings = { ...g.settings, topics: [...new Set([...(g.settings.topics ?? []), ...topics])].sort() };
    this.groups.set(group, { ...g, settings });
  }

  private readonly redrive = new Map<string, { next: number; version: number }>();

  async getRedrivePosition(topicId: string, partition: number): Promise<{ next: number; version: number } | undefined> {
    await tick();
    return this.redrive.get(`${topicId}/${partition}`);
  }

  async putRedrivePosition(
    topicId: string,
    partition: number,
    next: number,
    expectedVersion: number | undefined,
  ): Promise<boolean> {
    await tick();
    const key = `${topicId}/${partition}`;
    if (this.redrive.get(key)?.version !== expectedVersion) return false;
    this.redrive.set(key, { next, version: (expectedVersion ?? -1) + 1 });
    return true;
  }

  async deleteGroup(group: string): Promise<void> {
    await tick();
    this.groups.delete(group);
  }

  async putMember(group: string, member: ShareMember): Promise<void> {
    await tick();
    this.groups.get(group)?.members.set(member.memberId, structuredClone(member));
  }

  async getMember(group: string, memberId: string): Promise<ShareMember | undefined> {
    await tick();
    return structuredClone(this.groups.get(group)?.members.get(memberId));
  }

  async deleteMember(group: string, memberId: string): Promise<boolean> {
    await tick();
    return this.groups.get(group)?.members.delete(memberId) ?? false;
  }

  async listMembers(group: string): Promise<ShareMember[]> {
    await tick();
    return structuredClone([...(this.groups.get(group)?.members.values() ?? [])]);
  }

  async readPartition(group: string, partition: string): Promise<SharePartition> {
    await tick();
    this.requests.reads++;
    const g = this.groups.get(group);
    const chunks = [...(g?.chunks.get(partition)?.values() ?? [])].sort((a, b) => a.base - b.base);
    return structuredClone({ cursor: g?.cursors.get(partition), chunks });
  }

  async writePartition(group: string, partition: string, write: PartitionWrite): Promise<boolean> {
    await tick();
    this.requests.writes++;
    const g = this.groups.get(group);
    if (g === undefined) return false;
    const chunks = g.chunks.get(partition) ?? new Map<number, Chunk>();
    if (write.cursor !== undefined && g.cursors.get(partition)?.version !== write.cursor.expectedVersion) return false;
    for (const c of write.chunks) if (chunks.get(c.base)?.version !== c.expectedVersion) return false;
    if (write.cursor !== undefined) g.cursors.set(partition, structuredClone(write.cursor.next));
    for (const c of write.chunks) {
      if (c.next === null) chunks.delete(c.base);
      else chunks.set(c.base, structuredClone(c.next));
    }
    g.chunks.set(partition, chunks);
    return true;
  }
}
