import { beforeAll, describe, expect, it } from 'vitest';
import { count } from '../../core/streams/aggregators.ts';
import { stream } from '../../core/streams/stream.ts';
import { boundedOutOfOrderness } from '../../core/streams/watermarks.ts';
import { tumbling } from '../../core/streams/windows.ts';
import { handlerEnvironment } from '../support/handlerEnv.ts';
import { uniqueName } from '../support/names.ts';

/** The stream job's Lambda handler (functions/streams/processor.ts) on DynamoDB Local, as a deployed function runs it. */

type Handler = (event: unknown, context: unknown) => Promise<Record<string, unknown>>;
const context = (remainingMs: number) => ({
  functionName: 'job',
  awsRequestId: crypto.randomUUID(),
  getRemainingTimeInMillis: () => remainingMs,
});

describe('streamProcessorHandler', () => {
  let runtime: typeof import('../../functions/runtime.ts');
  let streamProcessorHandler: typeof import('../../functions/streams/processor.ts').streamProcessorHandler;
  const source = uniqueName('clicks');
  const sink = uniqueName('click-counts');
  const job = stream<{ user: string; at: number }>(source, {
    timestamp: (c) => c.at,
    watermark: boundedOutOfOrderness('1s'),
  })
    .keyBy((c) => c.user)
    .window(tumbling({ size: '1m' }))
    .aggregate(count())
    .map((w) => ({ user: w.key, start: w.window.start, clicks: w.result }))
    .to(sink);

  beforeAll(async () => {
    await handlerEnvironment('processor');
    runtime = await import('../../functions/runtime.ts');
    ({ streamProcessorHandler } = await import('../../functions/streams/processor.ts'));
  });

  it('checks its options when the module loads', () => {
    expect(() => streamProcessorHandler(job, { name: 'x', maxRecord: 5 } as never)).toThrow(
      /maxRecord is not an option/,
    );
    expect(() => streamProcessorHandler(job, { name: 'x', marginMs: -1 })).toThrow(/marginMs/);
    expect(() => streamProcessorHandler(job, { name: '' })).toThrow(/name/);
    expect(() => streamProcessorHandler({} as never, { name: 'x' })).toThrow(/StreamJob/);
  });

  it('does nothing before its source exists, then steps until the source is drained, and writes nothing twice', async () => {
    const name = uniqueName('job');
    const handler = streamProcessorHandler(job, { name, maxRecords: 10 }) as unknown as Handler;
    expect(await handler({}, context(60_000))).toMatchObject({ steps: 0, records: 0, outOfTime: false });

    await runtime.sluice.createTopic(source, { partitions: 3 });
    await runtime.sluice.createTopic(sink, { partitions: 1 });
    const start = Date.UTC(2026, 0, 1);
    // 3 users × 40 clicks, one a second: the first two minutes' windows close; 25 records a partition at most per step.
    const clicks = Array.from({ length: 120 }, (_, i) => ({
      key: `user-${i % 3}`,
      partition: i % 3,
      value: { user: `user-${i % 3}`, at: start + Math.floor(i / 3) * 1000 * 3 },
    }));
    await runtime.sluice.append(source, clicks);
    const run = await handler({}, context(60_000));
    expect(run).toMatchObject({ job: name, records: 120, late: 0, conflicts: 0, outOfTime: false });
    expect(run.steps as number, '40 records a partition, 10 a step').toBeGreaterThanOrEqual(4);
    const { records } = await runtime.sluice.read(sink, 0, 0, { isolation: 'read_committed' });
    expect(records.map((r) => r.value)).toStrictEqual([
      { user: 'user-0', start, clicks: 20 },
      { user: 'user-1', start, clicks: 20 },
      { user: 'user-2', start, clicks: 20 },
    ]);
    expect(run.outputs).toBe(3);
    expect(await handler({}, context(60_000))).toMatchObject({ records: 0, outputs: 0 });
    expect((await runtime.sluice.read(sink, 0, 0)).records.length).toBe(3);
  });

  it('starts no step with less than its margin left, so a step never outlives the invocation', async () => {
    const handler = streamProcessorHandler(job, { name: uniqueName('job'), marginMs: 5_000 }) as unknown as Handler;
    expect(await handler({}, context(4_000))).toMatchObject({ steps: 0, records: 0, outOfTime: true });
  });

  it('refuses to run a job of another name than the function was deployed for (its rights are on that job only)', async () => {
    const handler = streamProcessorHandler(job, { name: 'mine' }) as unknown as Handler;
    process.env.SLUICE_STREAM_JOB = 'theirs';
    try {
      await expect(handler({}, context(60_000))).rejects.toThrow(/deployed for job theirs/);
    } finally {
      delete process.env.SLUICE_STREAM_JOB;
    }
  });
});
