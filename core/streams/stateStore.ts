import { MemoryPart } from '../adapters/memory/memoryAtomic.ts';
import { MAX_ITEM_BYTES, jsonItemBytes } from '../adapters/memory/capacity.ts';
import { JobStateTooLarge } from '../errors.ts';
import type { AtomicPart } from '../ports.ts';
import { metadataKeys } from '../schema.ts';
import type { JobState } from './job.ts';

/** A stream job’s state as stored, with the version its last commit gave it (1 for the first). */
export interface StoredJobState {
  readonly state: JobState;
  readonly version: number;
  /** The topic the job reads (what its partitions’ lag is measured against). */
  readonly source: string;
}

/**
 * The most bytes a job’s state may take. The state is one item, and DynamoDB stores items of at
 * most 400 KB (`MAX_ITEM_BYTES`); the rest is left for the key and the version.
 *
 * @debt A larger state is refused (`JobStateTooLarge`) rather than split into chunk items written
 * in the same transaction: chunks would need a reader that checks every chunk carries the head’s
 * version (a Query is not isolated from a transaction landing under it), and would eat into the
 * 100 items a commit shares with the job’s output batches. Issue 16’s panes in their own items are
 * the way past this limit.
 */
export const MAX_JOB_STATE_BYTES = MAX_ITEM_BYTES - 50 * 1024; // 350 KB: 50 KB left of the item for key and version

/**
 * Where stream jobs keep their state: one item per job, replaced only by an atomic write that
 * expects the version it was loaded at, so that of two runners of one job only one commits a step.
 */
export interface JobStateStore {
  /** The job’s state and version, or undefined before its first commit. Strongly consistent. */
  load(job: string): Promise<StoredJobState | undefined>;
  /**
   * The state as part of an atomic write, at version `expectedVersion + 1`: rejected when the
   * stored version is not `expectedVersion` (undefined: when a state exists). Throws
   * `JobStateTooLarge` when the state passes `MAX_JOB_STATE_BYTES`.
   */
  savePart(job: string, state: JobState, expectedVersion: number | undefined, source: string): AtomicPart;
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

/** The state as the item stores it (a JSON string, so that no key or value of it meets DynamoDB’s map rules), checked for size. */
export function encodeJobState(job: string, state: JobState): { json: string; bytes: number } {
  const json = JSON.stringify(state);
  const { pk, sk } = metadataKeys.jobState(job);
  const bytes = jsonItemBytes(pk, sk, json) + 16 + 256; // + the version and source attributes
  if (bytes > MAX_JOB_STATE_BYTES) throw new JobStateTooLarge(job, bytes, MAX_JOB_STATE_BYTES);
  return { json, bytes };
}

/** In-memory `JobStateStore`, with DynamoDB’s item limit (see capacity.ts). */
export class MemoryJobStateStore implements JobStateStore {
  private readonly items = new Map<string, { json: string; version: number; source: string }>();

  async load(job: string): Promise<StoredJobState | undefined> {
    await new Promise((resolve) => setImmediate(resolve));
    const item = this.items.get(job);
    return item === undefined
      ? undefined
      : { state: JSON.parse(item.json) as JobState, version: item.version, source: item.source };
  }

  savePart(job: string, state: JobState, expectedVersion: number | undefined, source: string): AtomicPart {
    const { json, bytes } = encodeJobState(job, state);
    return new MemoryPart(
      expectedVersion === undefined ? 2 : 1, // the first commit also registers the job
      bytes,
      () => (this.items.get(job)?.version !== expectedVersion ? { item: 0 } : undefined),
      () => this.items.set(job, { json, version: (expectedVersion ?? 0) + 1, source }),
    );
  }

  async list(options: ListJobsOptions = {}): Promise<JobPage> {
    await new Promise((resolve) => setImmediate(resolve));
    const limit = options.limit ?? DEFAULT_JOB_PAGE;
    const names = [...this.items.keys()].filter((n) => options.after === undefined || n > options.after).sort();
    const jobs = names.slice(0, limit);
    return names.length > limit ? { jobs, next: jobs.at(-1)! } : { jobs };
  }
}
