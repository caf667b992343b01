/**
 * Runs a stream job in memory as it would run beside a live topic, shared by the stream examples:
 * the input arrives tick by tick (by the records' arrival times), and after each tick the runner
 * steps until it has nothing left to do, its clock set to the end of the tick. A last run with the
 * clock past the idleness timeout lets the quiet partitions release the watermark, as they would
 * once the producers stop. Table sinks (`toTable`) are in-memory tables (`MemoryTableSink`),
 * written in the same atomic writes as the topics, as DynamoDB tables would be.
 */
import { MemoryAtomicWriter } from '../../core/adapters/memory/memoryAtomic.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import type { JsonValue, RecordHeaders } from '../../core/log/records.ts';
import type { StreamJob } from '../../core/streams/job.ts';
import { JobRunner } from '../../core/streams/runner.ts';
import { MemoryJobStateStore } from '../../core/streams/stateStore.ts';
import { MemoryTableSink } from '../../core/streams/tableSink.ts';

/** An input record and when it reaches the topic (epoch ms), which may be after its event time. */
export interface Arrival {
  readonly at: number;
  readonly key: string;
  readonly value: JsonValue;
}

export interface InMemoryRun {
  /** The sink topic's records, per partition in offset order, partitions in turn. */
  readonly outputs: { key: string; value: unknown }[];
  /** The late side output's records, with the runner's headers (`LATE_HEADERS`). */
  readonly late: { key: string; value: unknown; headers: RecordHeaders }[];
  /** The job's watermark at the end: every window that ended by then has fired. */
  readonly watermark: number | null;
  /** Each table sink's items (`toTable`), by pk then sk: in memory here, DynamoDB tables when deployed. */
  readonly tables: Record<string, Record<string, JsonValue>[]>;
}

/**
 * Produces `input` to the job's source topic (`partitions` of them, keyed) in ticks of `tickMs`
 * of arrival time, runs the job after each, and finally at `flushAt`; returns what it wrote.
 */
export async function runInMemory(options: {
  job: StreamJob;
  name: string;
  input: readonly Arrival[];
  partitions: number;
  tickMs: number;
  flushAt: number;
}): Promise<InMemoryRun> {
  const { job, name, partitions, tickMs } = options;
  const store = new MemoryStore();
  const sluice = new Sluice({ log: store, metadata: store, atomic: new MemoryAtomicWriter() });
  const states = new MemoryJobStateStore();
  await sluice.createTopic(job.source, { partitions });
  await sluice.createTopic(job.spec.sink.topic, { partitions });
  await sluice.createTopic(job.spec.lateTopic, { partitions: 1 });
  const tables = new MemoryTableSink();
  const runner = new JobRunner({ sluice, store: states, job, name, tables });
  const runUntilIdle = async (now: number) => {
    while ((await runner.runOnce({ now })).committed);
  };

  const input = [...options.input].sort((a, b) => a.at - b.at);
  for (let i = 0; i < input.length;) {
    const tickEnd = (Math.floor((input[i] as Arrival).at / tickMs) + 1) * tickMs;
    const tick: Arrival[] = [];
    for (; i < input.length && (input[i] as Arrival).at < tickEnd; i++) tick.push(input[i] as Arrival);
    for (let j = 0; j < tick.length; j += 500) {
      await sluice.append(
        job.source,
        tick.slice(j, j + 500).map((a) => ({ key: a.key, value: a.value })),
      );
    }
    await runUntilIdle(tickEnd);
  }
  await runUntilIdle(options.flushAt);

  const readAll = async (topic: string) => {
    const records: { key: string; value: unknown; headers: RecordHeaders }[] = [];
    const { config } = await sluice.topic(topic);
    for (let p = 0; p < config.partitions; p++) {
      for (let offset = 0; ;) {
        const r = await sluice.read(topic, p, offset, { isolation: 'read_committed', maxRecords: 1000 });
        records.push(...r.records.map((x) => ({ key: String(x.key), value: x.value, headers: x.headers })));
        if (r.nextOffset === offset) break;
        offset = r.nextOffset;
      }
    }
    return records;
  };
  const outputs = (await readAll(job.spec.sink.topic)).map(({ key, value }) => ({ key, value }));
  const late = await readAll(job.spec.lateTopic);
  return {
    outputs,
    late,
    watermark: (await states.load(name))?.state.watermark ?? null,
    tables: Object.fromEntries(job.spec.tables.map((t) => [t.table, tables.items(t.table)])),
  };
}
