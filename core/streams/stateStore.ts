import { MemoryPart } from '../adapters/memory/memoryAtomic.ts';
import type { AtomicPart } from '../ports.ts';
import type { JobState } from './job.ts';
import {
  assemble,
  planSave,
  type JobLayout,
  type JobSettings,
  type LayoutPlan,
  type StoredChunk,
} from './stateLayout.ts';

/** A stream job’s state as loaded, with the version its last commit gave it (1 for the first). */
export interface StoredJobState {
  readonly state: JobState;
  readonly version: number;
  /** The topic the job reads (what its partitions’ lag is measured against). */
  readonly source: string;
  /** How it is stored (stateLayout.ts): what the next save compares against to write only changes. */
  readonly layout: JobLayout;
}

/** A save as part of an atomic write, and what the store holds once that write commits. */
export interface JobSave {
  readonly parts: AtomicPart[];
  readonly stored: StoredJobState;
}

/**
 * Where stream jobs keep their state: a head item and chunk items per job (stateLayout.ts),
 * replaced only by an atomic write that expects the version the state was loaded at, so that of
 * two runners of one job only one commits a step.
 */
export interface JobStateStore {
  /**
   * The job’s state, or undefined before its first commit; never a mix of two commits. With
   * `cached` (what this caller loaded or saved last), a head still at its version is all that is
   * read.
   */
  load(job: string, cached?: StoredJobState): Promise<StoredJobState | undefined>;
  /**
   * `state` as parts of an atomic write, at version `loaded.version + 1`: rejected when the stored
   * version is not `loaded`’s (undefined: when a state exists). Writes the head and the chunks
   * that changed since `loaded`. Throws `JobStateTooLarge`, writing nothing, when a part of the
   * state cannot fit an item (see `planSave`).
   */
  save(
    job: string,
    state: JobState,
    loaded: StoredJobState | undefined,
    source: string,
    settings?: JobSettings,
  ): JobSave;
  /** The jobs that have committed a step, by name in ascending order, a page at a time. */
  list(options?: ListJobsOptions): Promise<JobPage>;
}

export interface ListJobsOptions {
  /** The `next` of the previous page. */
  readonly after?: string;
  /** @default 100 */
  readonly limit?: number;
}

export interface JobPage {
  readonly jobs: string[];
  /** Where the next page starts; absent on the last page. */
  readonly next?: string;
}

export const DEFAULT_JOB_PAGE = 100;
export const MAX_JOB_PAGE = 1000;

/** What a save of `state` writes, and the stored state it leaves once committed. */
export function planJobSave(
  job: string,
  state: JobState,
  loaded: StoredJobState | undefined,
  source: string,
  settings?: JobSettings,
): { plan: LayoutPlan; stored: StoredJobState } {
  const version = (loaded?.version ?? 0) + 1;
  const plan = planSave(job, state, loaded?.layout, version, settings);
  return { plan, stored: { state, version, source, layout: plan.layout } };
}

/** In-memory `JobStateStore`: the same head and chunks, with DynamoDB’s item limit (see stateLayout.ts). */
export class MemoryJobStateStore implements JobStateStore {
  private readonly heads = new Map<string, { json: string; version: number; source: string }>();
  private readonly chunks = new Map<string, Map<string, StoredChunk>>();

  async load(job: string, cached?: StoredJobState): Promise<StoredJobState | undefined> {
    await new Promise((resolve) => setImmediate(resolve));
    const head = this.heads.get(job);
    if (head === undefined) return undefined;
    if (cached?.version === head.version) return cached;
    const assembled = assemble(head.json, head.version, this.chunks.get(job) ?? new Map());
    if (assembled === 'torn') throw new Error(`job ${job}: its chunks disagree with its head`); // atomic here: a bug
    return { ...assembled, version: head.version, source: head.source };
  }

  save(
    job: string,
    state: JobState,
    loaded: StoredJobState | undefined,
    source: string,
    settings?: JobSettings,
  ): JobSave {
    const { plan, stored } = planJobSave(job, state, loaded, source, settings);
    const items = 1 + plan.puts.length + plan.deletes.length + (loaded === undefined ? 1 : 0); // + the registry entry
    const bytes =
      Buffer.byteLength(plan.headJson) + plan.puts.reduce((sum, p) => sum + Buffer.byteLength(p.json), 0) + items * 64;
    const part = new MemoryPart(
      items,
      bytes,
      () => (this.heads.get(job)?.version !== loaded?.version ? { item: 0 } : undefined),
      () => {
        this.heads.set(job, { json: plan.headJson, version: stored.version, source });
        const chunks = this.chunks.get(job) ?? new Map<string, StoredChunk>();
        for (const p of plan.puts) chunks.set(p.id, { json: p.json, version: stored.version });
        for (const id of plan.deletes) chunks.delete(id);
        this.chunks.set(job, chunks);
      },
    );
    return { parts: [part], stored };
  }

  async list(options: ListJobsOptions = {}): Promise<JobPage> {
    await new Promise((resolve) => setImmediate(resolve));
    const limit = options.limit ?? DEFAULT_JOB_PAGE;
    const names = [...this.heads.keys()].filter((n) => options.after === undefined || n > options.after).sort();
    const jobs = names.slice(0, limit);
    return names.length > limit ? { jobs, next: jobs.at(-1)! } : { jobs };
  }
}
