import { expect, it } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import type { ConsumerGroups, TopicPartition } from '../../core/groups/consumerGroups.ts';
import { dynamoGroupKind } from '../support/stores.ts';

const GROUP = 'history';
const TOPIC = 'history-events';
const PARTITIONS = 6;
const key = (p: TopicPartition) => `${p.topic}/${p.partition}`;

interface Interval {
  readonly owner: string;
  readonly start: number;
  end: number;
}

/**
 * One worker incarnation: polls, processes, commits, and releases revoked partitions after
 * committing them. It logs the time span during which it believed it owned each partition.
 */
class Worker {
  memberId = '';
  stopped = false;
  private readonly owned = new Map<string, Interval>();
  private loop: Promise<void> = Promise.resolve();
  private readonly groups: ConsumerGroups;
  readonly name: string;
  private readonly instanceId: string;
  private readonly history: Map<string, Interval[]>;
  private readonly processed: Set<string>;

  constructor(
    groups: ConsumerGroups,
    name: string,
    instanceId: string,
    history: Map<string, Interval[]>,
    processed: Set<string>,
  ) {
    this.groups = groups;
    this.name = name;
    this.instanceId = instanceId;
    this.history = history;
    this.processed = processed;
  }

  private believe(assigned: readonly TopicPartition[], now: number): void {
    const current = new Set(assigned.map(key));
    for (const [k, interval] of this.owned) {
      if (!current.has(k)) {
        interval.end = now; // taken away (should only happen through our own release)
        this.owned.delete(k);
      }
    }
    for (const k of current) {
      if (!this.owned.has(k)) {
        const interval = { owner: this.name, start: now, end: Infinity };
        this.owned.set(k, interval);
        this.history.set(k, [...(this.history.get(k) ?? []), interval]);
      }
    }
  }

  async start(): Promise<void> {
    const joined = await this.groups.join(GROUP, {
      topics: [TOPIC],
      instanceId: this.instanceId,
      sessionTimeoutMs: 1500,
      rebalanceTimeoutMs: 4000,
      autoOffsetReset: 'earliest',
    });
    this.memberId = joined.memberId;
    this.believe([...joined.assignments, ...joined.revoking], performance.now());
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let release: TopicPartition[] = [];
    while (!this.stopped) {
      const res = await this.groups.poll(GROUP, this.memberId, { maxRecords: 50, waitMs: 100, release });
      if (this.stopped) return; // a crash: whatever came back is never processed
      release = [];
      this.believe([...res.assignments, ...res.revoking], performance.now());
      const next = new Map<string, number>();
      for (const r of res.records) {
        expect(this.owned.has(key(r)), `${this.name} got a record of ${key(r)} it does not own`).toBeTruthy();
        this.processed.add(`${key(r)}@${r.offset}`);
        next.set(key(r), r.offset + 1);
      }
      if (next.size > 0) {
        try {
          await this.groups.commit(GROUP, {
            memberId: this.memberId,
            generation: res.generation,
            offsets: [...next].map(([k, offset]) => ({ topic: TOPIC, partition: Number(k.split('/')[1]), offset })),
          });
        } catch (e) {
          // A rebalance elsewhere moved the generation on; the records come again (at least once).
          if (!isSluiceError(e, 'FencedMember') && !isSluiceError(e, 'NotAssigned')) throw e;
        }
      }
      if (this.stopped) return; // crashed while committing: crash() already ended every interval
      if (res.revoking.length > 0) {
        const now = performance.now();
        for (const p of res.revoking) {
          this.owned.get(key(p))!.end = now; // stop believing before telling the group
          this.owned.delete(key(p));
        }
        release = res.revoking;
      }
    }
  }

  /** Stops without leaving: the session simply ends. */
  async crash(): Promise<void> {
    this.stopped = true;
    const now = performance.now();
    for (const interval of this.owned.values()) interval.end = now;
    this.owned.clear();
    await this.loop;
  }

  async leave(): Promise<void> {
    await this.crash();
    await this.groups.leave(GROUP, this.memberId);
  }
}

it('rebalance history: joins, a leave, a crash and a static restart while producers write; no partition ever has two owners, every record is processed', async () => {
  const { sluice, groups } = await dynamoGroupKind.make();
  await sluice.createTopic(TOPIC, { partitions: PARTITIONS });
  const history = new Map<string, Interval[]>();
  const processed = new Set<string>();
  const acked: string[] = [];
  let producing = true;
  const producer = async (id: number) => {
    for (let i = 0; producing; i++) {
      const metas = await sluice.append(
        TOPIC,
        Array.from({ length: 5 }, (_, k) => ({ key: `p${id}-${i}-${k}`, value: { id, i, k } })),
      );
      acked.push(...metas.map((m) => `${TOPIC}/${m.partition}@${m.offset}`));
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const producers = [producer(0), producer(1)];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const worker = (name: string, instance: string) => new Worker(groups, name, instance, history, processed);

  const w0 = worker('w0', 'w0');
  const w1 = worker('w1', 'w1');
  await w0.start();
  await w1.start();
  await sleep(800);
  const w2 = worker('w2', 'w2');
  await w2.start();
  await sleep(800);
  await w1.leave();
  await sleep(600);
  await w2.crash();
  const w3 = worker('w3', 'w3');
  await w3.start();
  await sleep(800);
  await w0.crash(); // w0 restarts with the same instance id, within its session
  const w0b = worker('w0-restarted', 'w0');
  await w0b.start();
  await sleep(1000);
  producing = false;
  await Promise.all(producers);

  const deadline = Date.now() + 30_000;
  while (acked.some((r) => !processed.has(r)) && Date.now() < deadline) await sleep(200);
  await w3.leave();
  await w0b.leave();

  const missing = acked.filter((r) => !processed.has(r));
  expect(missing, `every acknowledged record was processed at least once (${acked.length} records)`).toStrictEqual([]);
  let handovers = 0;
  for (const [partition, intervals] of history) {
    const sorted = [...intervals].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      expect(
        sorted[i]!.start >= sorted[i - 1]!.end,
        `${partition}: ${sorted[i - 1]!.owner} [${sorted[i - 1]!.start.toFixed(1)}, ${sorted[i - 1]!.end.toFixed(1)}] overlaps ${sorted[i]!.owner} from ${sorted[i]!.start.toFixed(1)}`,
      ).toBeTruthy();
      handovers++;
    }
  }
  expect(handovers >= PARTITIONS, `the scenario moved partitions (${handovers} hand-overs)`).toBeTruthy();
  const owners = new Set([...history.values()].flat().map((i) => i.owner));
  expect(
    owners.has('w0-restarted') && owners.has('w3'),
    'the restarted and the late members got partitions',
  ).toBeTruthy();
  console.log(
    `# ${acked.length} records, ${processed.size} processed, ${handovers} hand-overs, owners ${[...owners].sort().join(' ')}`,
  );
});
