/**
 * An event-sourced bank account: the account is its stream of events (Opened, Deposited,
 * Withdrawn); every write says which version it expects, so a stale writer is refused
 * (WrongExpectedVersion) instead of overwriting; an old Withdrawn shape is upcast on read; a
 * projection keeps a balances read model; and a temporal query answers "what was the balance at
 * time T?".
 *
 * Against the local stack (or --url), through the HTTP API and the client's EventStreams, the
 * projection reads the event store's topic (sluice.events) into this process:
 *
 *   npx sluice example eventStore/bankAccount
 *
 * In memory, with the library (core/eventStore): snapshots, and a Projection that commits its
 * read-model writes and its checkpoint in one atomic write (on AWS: a DynamoReadModel table):
 *
 *   npx sluice example eventStore/bankAccount --in-memory
 */
import { parseArgs } from 'node:util';
import { EventStreams, PartitionConsumer, Admin, isSluiceApiError } from '../../client/index.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { MemoryAtomicWriter } from '../../core/adapters/memory/memoryAtomic.ts';
import { isSluiceError } from '../../core/errors.ts';
import { EventStore } from '../../core/eventStore/eventStore.ts';
import { eventOf, type ExpectedVersion } from '../../core/eventStore/events.ts';
import { MemoryEventStoreStore } from '../../core/eventStore/eventStoreStore.ts';
import { Projection } from '../../core/eventStore/projections.ts';
import { MemoryReadModel } from '../../core/eventStore/readModel.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { accountReducer, balanceChange, withdrawnV1toV2, type Account, type BankEvent } from './bank.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.SLUICE_URL ?? 'http://127.0.0.1:7070' },
    'in-memory': { type: 'boolean', default: false },
    account: { type: 'string', default: `account-${Date.now().toString(36)}` },
  },
});

/** What the run needs from either side: appends, the state at a time, the balances read model. */
interface Bank {
  append(events: BankEvent[], expectedVersion: ExpectedVersion): Promise<{ lastVersion: number }>;
  load(at?: { timestamp: number }): Promise<{ state: Account; version: number }>;
  /** Brings the read model up to date; this account's row. */
  balances(): Promise<Record<string, unknown> | undefined>;
}

const account = values.account;

function inMemory(): Bank {
  const store = new MemoryStore();
  const sluice = new Sluice({ log: store, metadata: store, atomic: new MemoryAtomicWriter() });
  const es = new EventStore({ sluice, store: new MemoryEventStoreStore(), snapshotEvery: 2 });
  es.registerUpcaster('Withdrawn', 1, withdrawnV1toV2);
  const readModel = new MemoryReadModel();
  const projection = new Projection({
    name: 'balances',
    eventStore: es,
    handle: (e) => {
      const change = balanceChange(e);
      if (change === undefined) return [];
      return 'owner' in change
        ? [readModel.put(e.streamId, { owner: change.owner, balanceCents: 0 })]
        : [readModel.add(e.streamId, 'balanceCents', change.deltaCents)];
    },
  });
  return {
    append: (events, expectedVersion) => es.appendToStream(account, events, { expectedVersion }),
    load: async (at) => es.load(account, accountReducer, at === undefined ? {} : { at }),
    balances: async () => {
      await projection.run();
      return readModel.get(account);
    },
  };
}

function overHttp(url: string): Bank {
  const streams = new EventStreams({ url });
  streams.registerUpcaster('Withdrawn', 1, withdrawnV1toV2);
  const rows = new Map<string, Record<string, unknown>>();
  const positions = new Map<number, number>();
  return {
    append: (events, expectedVersion) => streams.append(account, events, { expectedVersion }),
    load: (at) => streams.load(account, accountReducer, at === undefined ? {} : { at }),
    // A projection in this process: every partition of the event store's topic from where it got to.
    balances: async () => {
      const topic = await new Admin({ url }).describeTopic('sluice.events');
      for (const { partition, highWatermark } of topic.partitions) {
        const consumer = new PartitionConsumer({
          url,
          topic: 'sluice.events',
          partition,
          fromOffset: positions.get(partition) ?? 0,
          waitMs: 0,
        });
        for (let offset = positions.get(partition) ?? 0; offset < highWatermark;) {
          const records = await consumer.poll({ maxRecords: 500 });
          if (records.length === 0) break;
          for (const r of records) {
            const stored = eventOf({ ...r, value: r.value as never }, partition);
            if (stored === undefined) continue;
            const e = streams.upcasters.apply(stored);
            const change = balanceChange(e);
            const row = rows.get(e.streamId) ?? { balanceCents: 0 };
            if (change !== undefined && 'owner' in change) rows.set(e.streamId, { ...row, owner: change.owner });
            else if (change !== undefined)
              rows.set(e.streamId, { ...row, balanceCents: (row.balanceCents as number) + change.deltaCents });
            offset = r.offset + 1;
          }
          positions.set(partition, offset);
        }
      }
      return rows.get(account);
    },
  };
}

const bank = values['in-memory'] ? inMemory() : overHttp(values.url);
const euros = (cents: number) => (cents / 100).toFixed(2);

await bank.append([{ type: 'Opened', data: { owner: 'Ada' } }], 'noStream');
console.log(`Opened ${account} for Ada`);
await bank.append([{ type: 'Deposited', data: { amountCents: 10_000 } }], 0);
// Written by last year's code: euros as a string. Upcast to cents whenever it is read.
await bank.append([{ type: 'Withdrawn', data: { amount: '12.50' }, schemaVersion: 1 }], 1);
await new Promise((r) => setTimeout(r, 20));
const then = Date.now();
await new Promise((r) => setTimeout(r, 20));
const { lastVersion } = await bank.append([{ type: 'Deposited', data: { amountCents: 5_000 } }], 2);

// A second teller decided on version 2 too: refused, nothing written.
try {
  await bank.append([{ type: 'Withdrawn', data: { amountCents: 99_999 }, schemaVersion: 2 }], 2);
  throw new Error('a stale append was accepted');
} catch (e) {
  const actual = (isSluiceApiError(e) ? e.details.actualVersion : isSluiceError(e) ? e.actualVersion : undefined) as
    number | undefined;
  if (actual === undefined) throw e;
  console.log(`Refused a stale withdrawal: WrongExpectedVersion (the account is at version ${String(actual)})`);
}

const now = await bank.load();
console.log(
  `Balance now: ${euros(now.state.balanceCents)} EUR after ${now.state.transactions} transactions (version ${now.version} of ${lastVersion})`,
);
const past = await bank.load({ timestamp: then });
console.log(
  `Balance at ${new Date(then).toISOString()}: ${euros(past.state.balanceCents)} EUR (version ${past.version})`,
);
const row = await bank.balances();
console.log(
  `Read model: ${account} ${String(row?.owner)} ${euros((row?.balanceCents as number | undefined) ?? NaN)} EUR`,
);
