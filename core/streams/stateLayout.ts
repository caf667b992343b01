import { MAX_ITEM_BYTES } from '../adapters/memory/capacity.ts';
import { JobStateTooLarge } from '../errors.ts';
import { murmur2 } from '../log/murmur2.ts';
import type { JobSpec, JobState } from './job.ts';

/**
 * How a stream job’s state is laid out in items, so that a step rewrites what it changed and not
 * the whole state, and so that a state may grow past one item.
 *
 * - The **head** item holds the watermark, each input partition’s progress (its next offset: the
 *   checkpoint), and a manifest naming every chunk with the version that last wrote it. The head
 *   carries the state’s version; a commit is guarded by a condition on it.
 * - The keyed state lives in **chunks**. Window state is split by pane: the accumulators of all
 *   keys for the pane starting at `s` form group `p<s>`, so an event updates its one pane (slices
 *   of `gcd(size, slide)`, as issue 16 asks) and a step rewrites only the panes its events fell in
 *   (and drops expired ones whole). Session extents and process-function state (per key, not per
 *   time slice) form group `k`. A group too large for one item is spread over a power-of-two
 *   number of buckets by a hash of the key; the count only grows, and growing rewrites that group.
 * - A step writes the head, the chunks whose bytes changed and deletes of chunks that emptied, in
 *   the same atomic write as its outputs. A chunk’s bytes are canonical (keys sorted), so an
 *   unchanged chunk is recognised by comparing bytes.
 * - A reader gets the head (strongly consistent), then queries the chunks. A Query is not
 *   isolated from a transaction landing under it, so the reader checks every chunk against the
 *   manifest (present, at the version the manifest names, and nothing newer than the head) and
 *   reads again when a commit landed in between: it never assembles a torn state.
 */

/** The head item’s content, as stored (JSON). */
export interface JobHead {
  readonly version: 1;
  readonly watermark: number | null;
  readonly partitions: JobState['partitions'];
  /** Chunk id → the state version that last wrote it. */
  readonly chunks: Readonly<Record<string, number>>;
  /** Buckets per group, for groups spread over more than one. */
  readonly buckets: Readonly<Record<string, number>>;
  /** The job’s time settings as its runner last saved them (what `sluice jobs describe` reads). */
  readonly settings?: JobSettings;
}

/** What a description of a job needs of its definition: event or processing time, bound, idleness. */
export type JobSettings = Pick<JobSpec, 'watermark' | 'idleness' | 'time'>;

/** A chunk as stored: its canonical JSON and the version that wrote it. */
export interface StoredChunk {
  readonly json: string;
  readonly version: number;
}

/** A state as a store loaded it: what the next save compares against to write only changes. */
export interface JobLayout {
  readonly head: JobHead;
  readonly chunks: ReadonlyMap<string, StoredChunk>;
}

/** What a save writes: the head, the chunks that changed, and the chunks to delete. */
export interface LayoutPlan {
  readonly headJson: string;
  readonly puts: readonly { readonly id: string; readonly json: string }[];
  readonly deletes: readonly string[];
  /** The layout once the save commits (what a runner keeps to skip the next load’s chunk reads). */
  readonly layout: JobLayout;
}

/** A chunk’s target size: small enough that a step touching a few keys of a large pane rewrites little. */
export const CHUNK_TARGET_BYTES = 100 * 1024;
/** The most bytes of a chunk or head item’s content: DynamoDB’s 400 KB less room for keys and attributes. */
export const MAX_JOB_ITEM_BYTES = MAX_ITEM_BYTES - 50 * 1024;
/** Buckets a group may spread over: a pane (or the sessions) of at most 256 × 100 KB. */
export const MAX_BUCKETS = 256;

const KEYED_GROUP = 'k';

/** A key’s window state: accumulators by pane start (see windowOperator.ts). */
function isPaneState(value: unknown): value is { panes: Record<string, unknown> } {
  if (typeof value !== 'object' || value === null) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'panes' && Object.keys((value as { panes: object }).panes).length > 0;
}

/** The state’s cells by group: group → (record key → value). */
function cellsOf(state: JobState): Map<string, Map<string, unknown>> {
  const groups = new Map<string, Map<string, unknown>>();
  const put = (group: string, key: string, value: unknown) => {
    let cells = groups.get(group);
    if (cells === undefined) groups.set(group, (cells = new Map()));
    cells.set(key, value);
  };
  for (const [key, value] of Object.entries(state.keys)) {
    if (isPaneState(value)) for (const [start, acc] of Object.entries(value.panes)) put(`p${start}`, key, acc);
    else put(KEYED_GROUP, key, value);
  }
  return groups;
}

const encoder = new TextEncoder();
/** A key’s hash for bucketing (Kafka’s partitioner hash, made positive). */
const hashOf = (key: string) => murmur2(encoder.encode(key)) & 0x7fffffff;

/** Canonical JSON of a chunk’s cells: keys in code-unit order, whatever order the state had them in. */
function chunkJson(cells: readonly (readonly [string, unknown])[]): string {
  const sorted = [...cells].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${sorted.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

/**
 * Plans the save of `state` as version `next`, against what was loaded (undefined for a job’s
 * first commit). Throws `JobStateTooLarge`, writing nothing, when one key’s cell or the head would
 * not fit an item, or a group would need more than `MAX_BUCKETS` chunks.
 */
export function planSave(
  job: string,
  state: JobState,
  loaded: JobLayout | undefined,
  next: number,
  settings?: JobSettings,
): LayoutPlan {
  const chunks = new Map<string, StoredChunk>();
  const buckets: Record<string, number> = {};
  const puts: { id: string; json: string }[] = [];
  for (const [group, cells] of cellsOf(state)) {
    const sized = [...cells].map(([key, value]) => {
      const bytes = Buffer.byteLength(JSON.stringify(key)) + Buffer.byteLength(JSON.stringify(value)) + 2;
      if (bytes > MAX_JOB_ITEM_BYTES) throw new JobStateTooLarge(job, bytes, MAX_JOB_ITEM_BYTES);
      return { key, value, bytes, hash: hashOf(key) };
    });
    let count = loaded?.head.buckets[group] ?? 1;
    // Every bucket within the target, or holding one cell alone (one key’s large state).
    const fits = (n: number) => {
      const totals = new Array<number>(n).fill(0);
      const counts = new Array<number>(n).fill(0);
      for (const c of sized) {
        totals[c.hash % n]! += c.bytes;
        counts[c.hash % n]!++;
      }
      return totals.every((t, b) => t <= CHUNK_TARGET_BYTES || counts[b] === 1);
    };
    while (!fits(count) && count < MAX_BUCKETS) count *= 2;
    if (!fits(count)) {
      const total = sized.reduce((sum, c) => sum + c.bytes, 0);
      throw new JobStateTooLarge(job, total, MAX_BUCKETS * CHUNK_TARGET_BYTES);
    }
    if (count > 1) buckets[group] = count;
    const byBucket = new Map<number, [string, unknown][]>();
    for (const c of sized) {
      const b = c.hash % count;
      const list = byBucket.get(b) ?? [];
      list.push([c.key, c.value]);
      byBucket.set(b, list);
    }
    for (const [b, cellsOfBucket] of byBucket) {
      const id = `${group}/${b}`;
      const json = chunkJson(cellsOfBucket);
      const before = loaded?.chunks.get(id);
      if (before !== undefined && before.json === json) chunks.set(id, before);
      else {
        chunks.set(id, { json, version: next });
        puts.push({ id, json });
      }
    }
  }
  const deletes = [...(loaded?.chunks.keys() ?? [])].filter((id) => !chunks.has(id));
  const head: JobHead = {
    version: 1,
    watermark: state.watermark,
    partitions: state.partitions,
    chunks: Object.fromEntries([...chunks].map(([id, c]) => [id, c.version])),
    buckets,
    ...(settings === undefined ? {} : { settings }),
  };
  const headJson = JSON.stringify(head);
  const headBytes = Buffer.byteLength(headJson);
  if (headBytes > MAX_JOB_ITEM_BYTES) throw new JobStateTooLarge(job, headBytes, MAX_JOB_ITEM_BYTES);
  return { headJson, puts, deletes, layout: { head, chunks } };
}

/**
 * The state from a head and the chunks a read found, or `'torn'` when they disagree: a commit
 * landed between reading the head (at `version`) and reading the chunks, so read again.
 */
export function assemble(
  headJson: string,
  version: number,
  found: ReadonlyMap<string, StoredChunk>,
): { state: JobState; layout: JobLayout } | 'torn' {
  const parsed = JSON.parse(headJson) as JobHead | JobState;
  if ('keys' in parsed) {
    // A state stored whole in its head, as before chunks: the next save moves its keys to chunks.
    return { state: parsed, layout: { head: { ...parsed, chunks: {}, buckets: {} }, chunks: new Map() } };
  }
  const head = parsed;
  for (const c of found.values()) if (c.version > version) return 'torn'; // written by a later commit
  const chunks = new Map<string, StoredChunk>();
  const keys: Record<string, unknown> = {};
  for (const [id, v] of Object.entries(head.chunks)) {
    const c = found.get(id);
    if (c === undefined || c.version !== v) return 'torn'; // deleted or rewritten by a later commit
    chunks.set(id, c);
    const group = id.slice(0, id.lastIndexOf('/'));
    const cells = JSON.parse(c.json) as Record<string, unknown>;
    for (const [key, value] of Object.entries(cells)) {
      if (group === KEYED_GROUP) keys[key] = value;
      else ((keys[key] ??= { panes: {} }) as { panes: Record<string, unknown> }).panes[group.slice(1)] = value;
    }
  }
  return {
    state: { version: 1, watermark: head.watermark, partitions: head.partitions, keys },
    layout: { head, chunks },
  };
}
