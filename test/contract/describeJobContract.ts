import { describe, expect, test } from 'vitest';
import type { Sluice } from '../../core/log/sluice.ts';
import { count } from '../../core/streams/aggregators.ts';
import { describeJob, listJobs } from '../../core/streams/describe.ts';
import type { StreamJob } from '../../core/streams/job.ts';
import { JobRunner } from '../../core/streams/runner.ts';
import type { JobStateStore } from '../../core/streams/stateStore.ts';
import { stream } from '../../core/streams/stream.ts';
import { boundedOutOfOrderness, withIdleness } from '../../core/streams/watermarks.ts';
import { session, tumbling } from '../../core/streams/windows.ts';
import { code } from '../support/clock.ts';
import { uniqueName } from '../support/names.ts';

export interface DescribeJobKit {
  /** With an `AtomicWriter`, as a runner needs. */
  readonly sluice: Sluice;
  readonly store: JobStateStore;
}

interface Ev {
  k: string;
  t: number;
}

/**
 * `describeJob` and `listJobs` over a job a real `JobRunner` ran, for each store (memory,
 * DynamoDB Local): positions are the runner's committed offsets, lag is what was appended and not
 * processed, and the open-window counts are what the operator keeps in the state.
 */
export function describeJobContract(kind: { name: string; make: () => Promise<DescribeJobKit> }): void {
  describe(`${kind.name}: describing stream jobs`, () => {
    const windowJob = (source: string, bound = 5) =>
      stream<Ev>(source, { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(bound) })
        .keyBy((e) => e.k)
        .window(tumbling({ size: 10 }))
        .aggregate(count())
        .to(`${source}-out`);

    async function topics(kit: DescribeJobKit, source: string, partitions: number) {
      await kit.sluice.createTopic(source, { partitions });
      await kit.sluice.createTopic(`${source}-out`);
      await kit.sluice.createTopic(`${source}-late`);
    }
    const append = (kit: DescribeJobKit, source: string, partition: number, evs: Ev[]) =>
      kit.sluice.append(
        source,
        evs.map((value) => ({ key: value.k, value, partition })),
      );
    const evs = (n: number, from = 0): Ev[] => Array.from({ length: n }, (_, i) => ({ k: 'abc'[i % 3]!, t: from + i }));

    test('positions are the runner’s offsets, and lag is what was appended and not processed', async () => {
      const kit = await kind.make();
      const source = uniqueName('describe-in');
      const name = uniqueName('describe-job');
      await topics(kit, source, 2);
      await append(kit, source, 0, evs(7));
      await append(kit, source, 1, evs(3));
      const runner = new JobRunner({ sluice: kit.sluice, store: kit.store, job: windowJob(source), name });
      expect((await runner.runOnce({ maxRecords: 5, now: 1000 })).committed).toBe(true);

      const stored = (await kit.store.load(name))!;
      let d = await describeJob(kit.sluice, kit.store, name);
      expect(d).toMatchObject({ name, source, version: stored.version, watermark: stored.state.watermark });
      expect(d.partitions.map((p) => p.nextOffset)).toStrictEqual(
        [0, 1].map((p) => stored.state.partitions[p]!.nextOffset),
      );
      expect(d.partitions.map((p) => [p.partition, p.nextOffset, p.highWatermark, p.lag])).toStrictEqual([
        [0, 5, 7, 2],
        [1, 3, 3, 0],
      ]);
      expect(d.partitions.map((p) => p.maxEventTime)).toStrictEqual([4, 2]);
      // No definition given: the bound (5) is the one the runner saved with the state; no idleness set.
      expect(d.partitions.map((p) => [p.watermark, p.idle])).toStrictEqual([
        [4 - 5, false],
        [2 - 5, false],
      ]);

      // More input: lag grows by what was appended; a partition added to the topic shows up unread.
      await append(kit, source, 1, evs(4, 3));
      await kit.sluice.updateTopic(source, { partitions: 3 });
      await append(kit, source, 2, evs(2));
      d = await describeJob(kit.sluice, kit.store, name);
      expect(d.partitions.map((p) => [p.partition, p.nextOffset, p.highWatermark, p.lag])).toStrictEqual([
        [0, 5, 7, 2],
        [1, 3, 7, 4],
        [2, null, 2, 2],
      ]);

      // Caught up: every position is the high watermark, and the version counts the commits.
      while ((await runner.runOnce({ now: 2000 })).records > 0);
      d = await describeJob(kit.sluice, kit.store, name);
      expect(d.partitions.map((p) => [p.nextOffset, p.lag])).toStrictEqual([
        [7, 0],
        [7, 0],
        [2, 0],
      ]);
      expect(d.version).toBe((await kit.store.load(name))!.version);
    });

    test('open windows count the panes, sessions and timers the state holds', async () => {
      const kit = await kind.make();
      const source = uniqueName('windows-in');
      await topics(kit, source, 1);
      // Tumbling windows of 10, bound 5: a@1, b@2, a@12 leave the watermark at 7, windows [0,10) of
      // a and b and [10,20) of a open: 2 keys, 3 panes.
      await append(kit, source, 0, [
        { k: 'a', t: 1 },
        { k: 'b', t: 2 },
        { k: 'a', t: 12 },
      ]);
      const tumblingName = uniqueName('tumbling');
      const run = (name: string, job: StreamJob<unknown>) =>
        new JobRunner({ sluice: kit.sluice, store: kit.store, job, name }).runOnce({ now: 1000 });
      await run(tumblingName, windowJob(source));
      let d = await describeJob(kit.sluice, kit.store, tumblingName);
      expect([d.watermark, d.openWindows]).toStrictEqual([7, { keys: 2, panes: 3, sessions: 0, timers: 0 }]);
      expect(d.stateBytes).toBe(Buffer.byteLength(JSON.stringify((await kit.store.load(tumblingName))!.state)));

      // a@30 moves the watermark to 25: every window but a's [30,40) fired and was dropped.
      await append(kit, source, 0, [{ k: 'a', t: 30 }]);
      await run(tumblingName, windowJob(source));
      d = await describeJob(kit.sluice, kit.store, tumblingName);
      expect([d.watermark, d.openWindows]).toStrictEqual([25, { keys: 1, panes: 1, sessions: 0, timers: 0 }]);

      // Sessions with a gap of 100 over the same four events: a's 1 and 12 merge, 30 joins them; b alone.
      const sessionsName = uniqueName('sessions');
      await run(
        sessionsName,
        stream<Ev>(source, { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(5) })
          .keyBy((e) => e.k)
          .window(session({ gap: 100 }))
          .aggregate(count())
          .to(`${source}-out`),
      );
      d = await describeJob(kit.sluice, kit.store, sessionsName);
      expect(d.openWindows).toStrictEqual({ keys: 2, panes: 0, sessions: 2, timers: 0 });

      // A process function with a timer per event, 1000 later: a has three, b one.
      const timersName = uniqueName('timers');
      await run(
        timersName,
        stream<Ev>(source, { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(5) })
          .keyBy((e) => e.k)
          .process<number, Ev>({
            processElement: (e, ctx) => {
              ctx.setState((ctx.state() ?? 0) + 1);
              ctx.registerTimer(e.t + 1000);
            },
          })
          .to(`${source}-out`),
      );
      d = await describeJob(kit.sluice, kit.store, timersName);
      expect(d.openWindows).toStrictEqual({ keys: 2, panes: 0, sessions: 0, timers: 4 });
    });

    test('with the job’s definition, each partition’s watermark and idleness', async () => {
      const kit = await kind.make();
      const source = uniqueName('idle-in');
      const name = uniqueName('idle-job');
      await topics(kit, source, 2);
      await append(kit, source, 0, [{ k: 'a', t: 100 }]);
      const job = stream<Ev>(source, {
        timestamp: (e) => e.t,
        watermark: boundedOutOfOrderness(10),
        idleness: withIdleness(60_000),
      })
        .keyBy((e) => e.k)
        .window(tumbling({ size: 10 }))
        .aggregate(count())
        .to(`${source}-out`);
      await new JobRunner({ sluice: kit.sluice, store: kit.store, job, name }).runOnce({ now: 1_000_000 });
      await append(kit, source, 1, [{ k: 'b', t: 50 }]);
      await new JobRunner({ sluice: kit.sluice, store: kit.store, job, name }).runOnce({ now: 1_050_000 });
      const d = await describeJob(kit.sluice, kit.store, name, { spec: job.spec, now: 1_070_000 });
      expect(d.partitions.map((p) => [p.maxEventTime, p.watermark, p.idle, p.lastActiveAt])).toStrictEqual([
        [100, 90, true, 1_000_000],
        [50, 40, false, 1_050_000],
      ]);
      // The same from the settings the runner saved, as the HTTP route describes it.
      expect((await describeJob(kit.sluice, kit.store, name, { now: 1_070_000 })).partitions).toStrictEqual(
        d.partitions,
      );
    });

    test('a job that never committed is JobNotFound; a deleted source leaves positions without lag', async () => {
      const kit = await kind.make();
      expect(await code(() => describeJob(kit.sluice, kit.store, uniqueName('never')))).toBe('JobNotFound');
      expect(await code(() => describeJob(kit.sluice, kit.store, ''))).toBe('InvalidArgument');
      expect(await code(() => describeJob(kit.sluice, kit.store, 'x'.repeat(201)))).toBe('InvalidArgument');
      const source = uniqueName('gone-in');
      const name = uniqueName('gone-job');
      await topics(kit, source, 1);
      await append(kit, source, 0, evs(3));
      await new JobRunner({ sluice: kit.sluice, store: kit.store, job: windowJob(source), name }).runOnce({ now: 1 });
      await kit.sluice.deleteTopic(source);
      const d = await describeJob(kit.sluice, kit.store, name);
      expect(d.partitions).toMatchObject([{ partition: 0, nextOffset: 3, highWatermark: null, lag: null }]);
    });

    test('listJobs pages through the jobs by name, and refuses bad pages', async () => {
      const kit = await kind.make();
      const source = uniqueName('list-in');
      await topics(kit, source, 1);
      await append(kit, source, 0, evs(1));
      const prefix = uniqueName('listed');
      const names = [`${prefix}-c`, `${prefix}-a`, `${prefix}-b`];
      for (const name of names)
        await new JobRunner({ sluice: kit.sluice, store: kit.store, job: windowJob(source), name }).runOnce({ now: 1 });
      // Other tests' jobs may share the store: page from just before this test's names.
      const first = await listJobs(kit.store, { after: `${prefix}-`, limit: 2 });
      expect(first).toStrictEqual({ jobs: [`${prefix}-a`, `${prefix}-b`], next: `${prefix}-b` });
      const second = await listJobs(kit.store, { after: first.next!, limit: 2 });
      expect(second.jobs[0]).toBe(`${prefix}-c`);
      expect(await code(() => listJobs(kit.store, { limit: 0 }))).toBe('InvalidArgument');
      expect(await code(() => listJobs(kit.store, { limit: 1001 }))).toBe('InvalidArgument');
      expect(await code(() => listJobs(kit.store, { after: '' }))).toBe('InvalidArgument');
    });
  });
}
