/**
 * A share group's per-partition state (queues on a topic, as Kafka 4's share groups, KIP-932), as
 * pure data and functions; `shareGroups.ts` reads it, decides, and writes it back conditionally.
 *
 * Per partition the group keeps a cursor (`start`: every offset below it is done; `next`: the first
 * offset never acquired) and, for the in-flight window `[start, next)`, one chunk item per
 * `CHUNK` offsets holding each record's state. Chunks are small (about 400 bytes for 100 records)
 * so that acknowledging a batch of 100 records is one write of about one write unit.
 *
 * A record's life:
 *
 *   (never acquired) ──acquire──▶ acquired by M until lockedUntil ──accept──▶ acknowledged
 *                           ▲            │  release(delay) / lock expires      │ reject, delivery limit
 *                           └─ available ◀┘                                    ▼
 *                                                                           archived (dead-lettered)
 *
 * Each acquisition counts a delivery; a record released or expired at the group's delivery limit is
 * archived instead of made available again, as is a record whose time to live has run out when it
 * would be delivered, and (in a queue with `maxLength` and `drop-head`) the oldest ready record when
 * the queue is over its length. Archiving is two steps: the decision is written first
 * (`rejecting`, `exhausted`, `expiring` or `dropping`), then the dead letter is appended (idempotently) and the record
 * marked `archived`; whoever next changes the partition finishes what a crash left half done, so
 * each archived record is dead-lettered exactly once. Offsets with no record (gaps, compacted or deleted
 * records) are `gone` as soon as they are seen.
 */

/** Offsets per chunk item. */
export const CHUNK = 100;

/** One character per record in a chunk's `states`. */
export const STATE = {
  /** Not acquired yet (at or past the cursor's `next`). */
  fresh: '.',
  acquired: 'a',
  /** Released (available again from `availableAt`, when one is set). */
  released: 'r',
  accepted: 'A',
  /** Archived: rejected, its dead letter not written yet (no member gets it again). */
  rejecting: 'j',
  /** Archived: out of deliveries, its dead letter not written yet. */
  exhausted: 'l',
  /** Archived: its time to live ran out before it was delivered, its dead letter not written yet. */
  expiring: 'e',
  /** Archived: dropped from the head of a queue over its `maxLength`, its dead letter not written yet. */
  dropping: 'd',
  /** Archived with its dead letter written. */
  archived: 'X',
  /** No record at this offset. */
  gone: '-',
} as const;
export type RecordState = (typeof STATE)[keyof typeof STATE];

const TERMINAL: ReadonlySet<string> = new Set([STATE.accepted, STATE.archived, STATE.gone]);

/** Why a record was archived (the dead letter's `reason` header). */
export type ArchiveReason = 'rejected' | 'delivery-limit' | 'expired' | 'max-length';

/** The states of records archived but not dead-lettered yet, and why they were archived. */
const PENDING: Readonly<Record<string, ArchiveReason>> = {
  [STATE.rejecting]: 'rejected',
  [STATE.exhausted]: 'delivery-limit',
  [STATE.expiring]: 'expired',
  [STATE.dropping]: 'max-length',
};

export interface Cursor {
  readonly start: number;
  readonly next: number;
  readonly version: number;
}

/** A lock: who holds records and until when; records point at one by index. */
export interface Lock {
  readonly member: string;
  readonly until: number;
}

export interface Chunk {
  readonly base: number;
  readonly version: number;
  /** `CHUNK` characters of `STATE`. */
  readonly states: string;
  /** Deliveries per record, one base-36 digit each (so at most 35). */
  readonly deliveries: string;
  /** Per record, two characters: the index of its lock in `locks` (base 36), or `..` for none. */
  readonly lockOf: string;
  readonly locks: readonly Lock[];
  /** Offset → when a released record becomes available (only those released with a delay). */
  readonly availableAt: Readonly<Record<string, number>>;
  /** Offset → the last error message a consumer gave with a release or a reject (for dead letters). */
  readonly errors: Readonly<Record<string, string>>;
}

export function emptyChunk(base: number): Chunk {
  return {
    base,
    version: 0,
    states: STATE.fresh.repeat(CHUNK),
    deliveries: '0'.repeat(CHUNK),
    lockOf: '..'.repeat(CHUNK),
    locks: [],
    availableAt: {},
    errors: {},
  };
}

export function chunkBase(offset: number): number {
  return offset - (offset % CHUNK);
}

/** A mutable working copy of a chunk: change records, then `freeze` it back (dropping unused locks). */
export class ChunkDraft {
  readonly base: number;
  readonly version: number;
  private readonly states: string[];
  private readonly deliveries: number[];
  private readonly lockOf: (number | undefined)[];
  private readonly locks: Lock[];
  private readonly availableAt: Record<string, number>;
  private readonly errors: Record<string, string>;
  changed = false;

  constructor(chunk: Chunk) {
    this.base = chunk.base;
    this.version = chunk.version;
    this.states = [...chunk.states];
    this.deliveries = [...chunk.deliveries].map((d) => parseInt(d, 36));
    this.lockOf = Array.from({ length: CHUNK }, (_, i) => {
      const c = chunk.lockOf.slice(2 * i, 2 * i + 2);
      return c === '..' ? undefined : parseInt(c, 36);
    });
    this.locks = [...chunk.locks];
    this.availableAt = { ...chunk.availableAt };
    this.errors = { ...chunk.errors };
  }

  private index(offset: number): number {
    const i = offset - this.base;
    if (i < 0 || i >= CHUNK) throw new RangeError(`offset ${offset} is not in chunk ${this.base}`);
    return i;
  }

  state(offset: number): RecordState {
    return this.states[this.index(offset)] as RecordState;
  }

  deliveryCount(offset: number): number {
    return this.deliveries[this.index(offset)]!;
  }

  lock(offset: number): Lock | undefined {
    const l = this.lockOf[this.index(offset)];
    return l === undefined ? undefined : this.locks[l];
  }

  error(offset: number): string | undefined {
    return this.errors[String(offset)];
  }

  /** Whether a record is free to be acquired at `now`. */
  available(offset: number, now: number): boolean {
    const state = this.state(offset);
    if (state === STATE.released) return (this.availableAt[String(offset)] ?? 0) <= now;
    return state === STATE.acquired && this.lock(offset)!.until <= now;
  }

  /** Whether `member` holds the record at `now` (acquired by it, its lock not expired). */
  heldBy(offset: number, member: string, now: number): boolean {
    const lock = this.lock(offset);
    return this.state(offset) === STATE.acquired && lock?.member === member && lock.until > now;
  }

  acquire(offset: number, lock: Lock): void {
    const i = this.index(offset);
    let l = this.locks.findIndex((x) => x.member === lock.member && x.until === lock.until);
    if (l < 0) l = this.locks.push(lock) - 1;
    this.states[i] = STATE.acquired;
    this.deliveries[i] = Math.min(this.deliveries[i]! + 1, 35);
    this.lockOf[i] = l;
    delete this.availableAt[String(offset)];
    this.changed = true;
  }

  /** Extends the record's lock to `until` (a `renew`). */
  renew(offset: number, member: string, until: number): void {
    const i = this.index(offset);
    let l = this.locks.findIndex((x) => x.member === member && x.until === until);
    if (l < 0) l = this.locks.push({ member, until }) - 1;
    this.lockOf[i] = l;
    this.changed = true;
  }

  /** Records archived but not yet dead-lettered, with why. */
  pending(): { offset: number; reason: ArchiveReason }[] {
    const out: { offset: number; reason: ArchiveReason }[] = [];
    this.states.forEach((s, i) => {
      const reason = PENDING[s];
      if (reason !== undefined) out.push({ offset: this.base + i, reason });
    });
    return out;
  }

  set(offset: number, state: RecordState, options: { availableAt?: number; error?: string } = {}): void {
    const i = this.index(offset);
    this.states[i] = state;
    this.lockOf[i] = undefined;
    if (options.availableAt !== undefined && state === STATE.released)
      this.availableAt[String(offset)] = options.availableAt;
    else delete this.availableAt[String(offset)];
    if (options.error !== undefined) this.errors[String(offset)] = options.error;
    else if (TERMINAL.has(state)) delete this.errors[String(offset)]; // a dead letter has it by then
    this.changed = true;
  }

  /** How many records of the chunk are in this state. */
  count(state: RecordState): number {
    return this.states.filter((s) => s === state).length;
  }

  /** Every record of the chunk is done (accepted, archived or gone). */
  done(): boolean {
    return this.states.every((s) => TERMINAL.has(s));
  }

  freeze(): Chunk {
    // Keep only the locks records still point at, renumbered.
    const used = [...new Set(this.lockOf.filter((l): l is number => l !== undefined))].sort((a, b) => a - b);
    const renumber = new Map(used.map((old, k) => [old, k]));
    if (used.length > 36 * 36) throw new RangeError('a chunk holds at most 1,296 distinct locks');
    return {
      base: this.base,
      version: this.version + 1,
      states: this.states.join(''),
      deliveries: this.deliveries.map((d) => d.toString(36)).join(''),
      lockOf: this.lockOf
        .map((l) => (l === undefined ? '..' : renumber.get(l)!.toString(36).padStart(2, '0')))
        .join(''),
      locks: used.map((old) => this.locks[old]!),
      availableAt: this.availableAt,
      errors: this.errors,
    };
  }
}

export function isTerminal(state: string): boolean {
  return TERMINAL.has(state);
}

/**
 * The lowest offset in `[from, next)` that is not done, given the chunks (missing chunks below
 * `next` are done: they were removed once finished); `next` when all are.
 */
export function firstUndone(from: number, next: number, chunks: ReadonlyMap<number, ChunkDraft>): number {
  for (let offset = from; offset < next; offset++) {
    const chunk = chunks.get(chunkBase(offset));
    if (chunk === undefined) {
      offset = chunkBase(offset) + CHUNK - 1; // a removed (finished) chunk
      continue;
    }
    if (!isTerminal(chunk.state(offset))) return offset;
  }
  return next;
}
