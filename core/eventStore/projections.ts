import { range } from '../async.ts';
import { integerOption } from '../log/integerOption.ts';
import { InvalidArgument, TransactionConditionFailed, TransactionTooLarge } from '../errors.ts';
import { MAX_ATOMIC_BYTES, MAX_ATOMIC_ITEMS, type AtomicPart } from '../ports.ts';
import type { EventStore } from './eventStore.ts';
import { eventOf, onlyOptions, type RecordedEvent } from './events.ts';
import type { Checkpoint } from './eventStoreStore.ts';
import type { KeyedPart } from './readModel.ts';

export interface ProjectionOptions {
  /** Names its checkpoints: 1 to 128 characters from A-Z, a-z, 0-9, `.`, `_`, `-`. */
  readonly name: string;
  readonly eventStore: EventStore;
  /**
   * The read-model writes one event makes, as parts of the adapter's kind (a `ReadModel`'s, or
   * `DynamoAtomicWriter.userPart` on DynamoDB). Must be deterministic: a rebuild replays it.
   */
  readonly handle: (event: RecordedEvent) => readonly AtomicPart[] | Promise<readonly AtomicPart[]>;
  /** Records read per request. @default 200 */
  readonly readBatch?: number;
}

export interface ProjectionRun {
  /** Events applied by this run. */
  readonly applied: number;
  /** Atomic writes it made. */
  readonly commits: number;
  /** Per partition, the next offset now. */
  readonly positions: Record<number, number>;
}

const NAME = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * A CQRS read model kept from the event store's topic. Each atomic write holds read-model writes
 * of consecutive events of one partition AND the partition's checkpoint (the next offset),
 * conditional on the checkpoint it read: a crash anywhere leaves the read model and the
 * checkpoint agreeing, so running again (or rebuilding from zero) ends in the same table, and
 * two runners never both apply an event. Each write stays within DynamoDB's 100 items and 4 MB;
 * events touching one item go to separate writes (DynamoDB refuses two writes of an item in one).
 *
 * @example
 * const balances = new Projection({ name: 'balances', eventStore, handle: (e) =>
 *   e.type === 'Deposited' ? [readModel.add(e.streamId, 'balance', e.data.amount)] : [] });
 * await balances.run();
 */
export class Projection {
  readonly name: string;
  private readonly eventStore: EventStore;
  private readonly handle: ProjectionOptions['handle'];
  private readonly readBatch: number;

  constructor(options: ProjectionOptions) {
    onlyOptions('Projection', options, ['name', 'eventStore', 'handle', 'readBatch']);
    if (typeof options.name !== 'string' || !NAME.test(options.name))
      throw new InvalidArgument('name', 'a projection name is 1 to 128 characters from A-Z, a-z, 0-9, . _ -');
    if (typeof options.handle !== 'function') throw new InvalidArgument('handle', 'handle is a function of an event');
    this.name = options.name;
    this.eventStore = options.eventStore;
    this.handle = options.handle;
    this.readBatch = integerOption('readBatch', options.readBatch, 200, 1, 10_000); // 200 records per read
  }

  /** Applies every event not applied yet, partition by partition, until each is caught up. */
  async run(): Promise<ProjectionRun> {
    const topic = await this.eventStore.topic();
    const store = this.eventStore.store;
    let checkpoints = await store.checkpoints(this.name);
    let applied = 0;
    let commits = 0;
    const positions: Record<number, number> = {};
    for (const partition of range(topic.config.partitions)) {
      for (;;) {
        const previous = checkpoints.get(partition);
        // A checkpoint of an earlier incarnation of the topic counts as none.
        const from = previous?.topicId === topic.topicId ? previous.next : 0;
        const page = await this.eventStore.sluice.read(topic.name, partition, from, { maxRecords: this.readBatch });
        if (page.nextOffset === from) {
          positions[partition] = from;
          break;
        }
        // Lay the page out in atomic writes: [parts, next offset after them].
        const writes: { parts: AtomicPart[]; next: number; events: number }[] = [];
        let current = { parts: [] as AtomicPart[], next: from, events: 0, items: 1, bytes: 0, keys: new Set<string>() };
        const flush = () => {
          if (current.next !== (writes.at(-1)?.next ?? from)) writes.push(current);
          current = { parts: [], next: current.next, events: 0, items: 1, bytes: 0, keys: new Set<string>() };
        };
        for (const record of page.records) {
          const event = eventOf(record, partition);
          const parts = event === undefined ? [] : await this.handle(this.eventStore.upcasters.apply(event));
          const items = parts.reduce((n, p) => n + p.items, 0);
          const bytes = parts.reduce((n, p) => n + p.bytes, 0);
          if (items + 1 > MAX_ATOMIC_ITEMS || bytes > MAX_ATOMIC_BYTES)
            throw new TransactionTooLarge(items + 1, bytes, MAX_ATOMIC_ITEMS, MAX_ATOMIC_BYTES);
          const keys = parts.map((p) => (p as Partial<KeyedPart>).keys);
          const keyed = keys.every((k) => k !== undefined);
          const clash = !keyed || keys.some((k) => k.some((key) => current.keys.has(key)));
          if (
            current.events > 0 &&
            (clash || current.items + items > MAX_ATOMIC_ITEMS || current.bytes + bytes > MAX_ATOMIC_BYTES)
          )
            flush();
          current.parts.push(...parts);
          current.items += items;
          current.bytes += bytes;
          current.events += event === undefined ? 0 : 1;
          for (const k of keys) for (const key of k ?? []) current.keys.add(key);
          current.next = record.offset + 1;
          if (!keyed) flush(); // alone: its own writes may not be told apart
        }
        current.next = page.nextOffset; // past gap fillers and records that are not events
        flush();
        let lost = false;
        let at = previous;
        for (const w of writes) {
          const next: Checkpoint = { topicId: topic.topicId, next: w.next };
          const checkpoint = store.checkpointPart(this.name, partition, at, next);
          const outcome = await this.eventStore.sluice.writeAtomically([...w.parts, checkpoint]);
          if (outcome.outcome === 'rejected') {
            if (outcome.part !== w.parts.length) throw new TransactionConditionFailed(outcome.part);
            lost = true; // another runner moved the checkpoint: go on from where it is
            break;
          }
          commits++;
          applied += w.events;
          at = next;
        }
        if (lost) checkpoints = await store.checkpoints(this.name);
        else if (at !== undefined) checkpoints.set(partition, at);
      }
    }
    return { applied, commits, positions };
  }

  /** Forgets the checkpoints: the next run applies everything again (into an emptied read model). */
  async reset(): Promise<void> {
    await this.eventStore.store.deleteCheckpoints(this.name);
  }
}
