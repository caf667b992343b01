import { expect, it } from 'vitest';
import { Admin, Producer } from '../../client/index.ts';
import { BATCH_OBJECT_ROOTS } from '../../core/log/objectBatches.ts';
import { S3ObjectStore, s3ClientFromEnv } from '../../core/tiering/objectStore.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

// One writer at a time here, so batches may move to S3 as soon as they are written (see minRollAgeMs).
process.env.SLUICE_MIN_ROLL_AGE_MS = '0';
const api = useApi('e2e-tiering');
const cli = (args: string[]) => runNode('bin/sluice.mjs', ['--url', api.url, ...args]);

it('tiering over HTTP: the admin route rolls to S3, describe shows it, reads and the CLI span the tiers, delete-records moves the start', async ({
  skip,
}) => {
  // A deployed stack's roller keeps its own minimum roll age (60 s), which this file cannot lower.
  skip(process.env.SLUICE_API_URL !== undefined, 'SLUICE_API_URL: the deployed roller waits 60 s before rolling');
  const topic = uniqueName('tiered');
  const admin = new Admin({ url: api.url });
  // A one-byte hot budget: everything but the tail batch moves to S3 at the next run.
  await admin.createTopic(topic, { config: { hotRetentionBytes: 1, compression: 'zstd' } });
  const producer = new Producer({ url: api.url, lingerMs: 0, batchSize: 10 });
  for (let b = 0; b < 5; b++)
    await producer.sendBatch(
      topic,
      Array.from({ length: 10 }, (_, i) => ({ key: `k${b}`, value: { n: b * 10 + i } })),
    );
  await producer.close();

  const run = await fetch(`${api.url}/v1/admin/tiering/run`, { method: 'POST' }).then(
    (r) => r.json() as Promise<{ rolled: number }>,
  );
  expect(run.rolled >= 1, `rolled ${run.rolled}`).toBeTruthy();
  const [p0] = (await admin.describeTopic(topic, { sizes: true })).partitions;
  expect(p0!.segments).toBe(1);
  expect(p0!.tieredThrough, 'four batches in S3, the tail batch hot').toBe(40);
  expect(p0!.tieredBytes! > 0 && p0!.hotBytes! > 0).toBeTruthy();
  const [plain] = (await admin.describeTopic(topic)).partitions;
  expect(plain!.hotBytes, 'hot bytes only when asked for').toBe(undefined);
  expect(plain!.tieredBytes).toBe(p0!.tieredBytes);
  const summary = await admin.describeTopic(topic, { offsets: false });
  expect(summary.config.partitions).toBe(1);
  expect('partitions' in summary, 'the topic record only').toBe(false);

  const read = await fetch(`${api.url}/v1/topics/${topic}/partitions/0/records?offset=5&maxRecords=10`).then(
    (r) => r.json() as Promise<{ records: { offset: number; value: { n: number } }[] }>,
  );
  expect(read.records.map((r) => [r.offset, r.value.n])).toStrictEqual(
    Array.from({ length: 10 }, (_, i) => [5 + i, 5 + i]),
  );
  const all = await cli(['consume', topic, '--from-beginning', '--json']);
  expect(
    all.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).value.n),
  ).toStrictEqual(Array.from({ length: 50 }, (_, i) => i));

  expect(await admin.deleteRecords(topic, 0, 25)).toStrictEqual({ logStartOffset: 25 });
  const gone = await fetch(`${api.url}/v1/topics/${topic}/partitions/0/records?offset=3`);
  expect(gone.status).toBe(416);
  expect(((await gone.json()) as { error: { logStartOffset: number } }).error.logStartOffset).toBe(25);
  const bad = await fetch(`${api.url}/v1/topics/${topic}/partitions/0/delete-records`, {
    method: 'POST',
    body: JSON.stringify({ beforeOffset: -1 }),
  });
  expect(bad.status).toBe(400);
  await admin.deleteTopic(topic);
});

// s3-express: the emulator's second bucket stands in for the directory bucket (SLUICE_EXPRESS_BUCKET).
it.for(['s3', 's3-express'] as const)(
  'an %s topic over HTTP: created with the CLI, produced and consumed as any topic, rolled to segments, its bytes in its bucket',
  async (storage, { skip }) => {
    skip(process.env.SLUICE_API_URL !== undefined, 'SLUICE_API_URL: the deployed roller waits 60 s before rolling');
    const topic = uniqueName(`${storage}topic`);
    const created = await cli([
      'topics',
      'create',
      topic,
      '--partitions',
      '2',
      '--config',
      `storage=${storage}`,
      '--config',
      'hotRetentionBytes=1',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const admin = new Admin({ url: api.url });
    expect((await admin.describeTopic(topic)).config.storage).toBe(storage);
    const listed = await cli(['topics', 'list']);
    expect(listed.stdout.split('\n').find((l) => l.startsWith(`${topic} `))).toMatch(
      new RegExp(`\\s2\\s+${storage}\\s+none\\s`),
    );
    const producer = new Producer({ url: api.url, lingerMs: 0, batchSize: 20 });
    for (let b = 0; b < 3; b++)
      await producer.sendBatch(
        topic,
        Array.from({ length: 20 }, (_, i) => ({ key: `user-${i % 5}`, value: { n: b * 20 + i } })),
      );
    await producer.close();
    const consumed = async () =>
      (await cli(['consume', topic, '--from-beginning', '--json'])).stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { value: { n: number } }).value.n)
        .sort((a, b) => a - b);
    const everything = Array.from({ length: 60 }, (_, i) => i);
    expect(await consumed()).toStrictEqual(everything);
    // One object per produce request, in the bucket of its storage (the S3 emulator's here).
    const bucket = storage === 's3' ? process.env.SLUICE_SEGMENT_BUCKET! : process.env.SLUICE_EXPRESS_BUCKET!;
    const objects = new S3ObjectStore({ client: s3ClientFromEnv(), bucket });
    const keys: string[] = [];
    for await (const o of objects.list(`${BATCH_OBJECT_ROOTS[storage]}${topic}/`)) keys.push(o.key);
    expect(keys).toHaveLength(3);
    await fetch(`${api.url}/v1/admin/tiering/run`, { method: 'POST' });
    const described = await admin.describeTopic(topic);
    expect(
      described.partitions.some((p) => (p.segments ?? 0) > 0),
      'rolled to segments',
    ).toBe(true);
    expect(await consumed(), 'the same records across the tiers').toStrictEqual(everything);
  },
);
