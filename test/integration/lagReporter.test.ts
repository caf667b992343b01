import { expect, it } from 'vitest';
import { handlerEnvironment } from '../support/handlerEnv.ts';

it('publishes ConsumerLag and MaxPartitionLag per group and topic in CloudWatch embedded metric format', async () => {
  // Metrics on: the test reads what they print.
  await handlerEnvironment('lag', { POWERTOOLS_METRICS_DISABLED: 'false', POWERTOOLS_METRICS_NAMESPACE: 'Sluice' });
  const { sluice, groups } = await import('../../functions/runtime.ts');
  const { reportLag } = await import('../../functions/groups/lagReporter.ts');
  await sluice.createTopic('lagging', { partitions: 2 });
  await sluice.append(
    'lagging',
    Array.from({ length: 10 }, (_, i) => ({ value: i, partition: i % 2 })),
  );
  const m = await groups.join('billing', { topics: ['lagging'], autoOffsetReset: 'earliest' });
  await groups.commit('billing', {
    memberId: m.memberId,
    generation: m.generation,
    offsets: [{ topic: 'lagging', partition: 0, offset: 4 }],
  });

  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  };
  let result;
  try {
    result = await reportLag();
  } finally {
    process.stdout.write = write;
  }
  expect(result).toStrictEqual({ groups: 1, series: 1 });
  const emf = lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l));
  const metric = (name: string) =>
    emf.find((e) => e._aws.CloudWatchMetrics[0].Metrics.some((x: { Name: string }) => x.Name === name));
  const lag = metric('ConsumerLag');
  expect(lag, 'ConsumerLag published').toBeTruthy();
  expect(lag._aws.CloudWatchMetrics[0].Namespace).toBe('Sluice');
  expect([lag.Group, lag.Topic, lag.ConsumerLag], 'p0: 5 - 4 committed; p1: 5 uncommitted').toStrictEqual([
    'billing',
    'lagging',
    1 + 5,
  ]);
  expect(lag._aws.CloudWatchMetrics[0].Dimensions[0].includes('Group')).toBeTruthy();
  expect(metric('MaxPartitionLag').MaxPartitionLag).toBe(5);
});
