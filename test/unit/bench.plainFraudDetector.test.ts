import { expect, test } from 'vitest';
import { PlainFraudDetector } from '../../bench/plainFraudDetector.ts';
import { partitionForKey } from '../../core/log/murmur2.ts';
import type { InputRecord } from '../../core/streams/job.ts';
import { fraudJob, generateTransactions, type FraudAlert } from '../../examples/streams/fraudDetection.ts';

/**
 * The `streams` bench's plain consumer must do the fraud job's arithmetic, or its speed says
 * nothing about the engine's: fed the same batches in the same order (partition by partition, as
 * the runner steps), it raises the engine's alerts in the engine's order and finds the same late
 * transactions.
 */
test('the plain fraud detector raises the fraud job’s alerts and finds its late transactions', () => {
  const partitions = 4;
  const arrivals = generateTransactions({ seed: 5, users: 300, minutes: 40 }).sort((a, b) => a.at - b.at);
  const logs: InputRecord[][] = Array.from({ length: partitions }, () => []);
  for (const a of arrivals) {
    const p = partitionForKey(Buffer.from(a.key), partitions);
    logs[p]!.push({ partition: p, offset: logs[p]!.length, value: a.value });
  }

  const now = Date.UTC(2026, 10, 30);
  let state = fraudJob.initialState([0, 1, 2, 3]);
  const engine = { alerts: [] as unknown[], late: [] as unknown[] };
  const plain = new PlainFraudDetector(partitions);
  const mine = { alerts: [] as FraudAlert[], late: [] as unknown[] };
  const perStep = 150; // records per partition per step: many steps, each crossing window ends
  for (let from = 0; logs.some((l) => l.length > from); from += perStep) {
    const batch = logs.flatMap((l) => l.slice(from, from + perStep));
    const result = fraudJob.step(state, batch, now);
    state = result.state;
    engine.alerts.push(...result.outputs.map((o) => o.value));
    engine.late.push(...result.late.map((l) => l.value));
    for (const r of batch) if (plain.add(r.partition, r.value as never, mine.alerts)) mine.late.push(r.value);
    expect(plain.watermark).toBe(state.watermark);
  }
  const flushed = fraudJob.step(state, [], now + 6 * 60_000); // past the job's idleness timeout
  engine.alerts.push(...flushed.outputs.map((o) => o.value));
  plain.flush(mine.alerts);
  expect(plain.watermark).toBe(flushed.state.watermark);

  expect(engine.alerts.length).toBeGreaterThan(20);
  expect(engine.late.length).toBeGreaterThan(5);
  expect(mine.alerts).toEqual(engine.alerts);
  expect(mine.late).toEqual(engine.late);
});
