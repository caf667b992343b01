import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { range } from '../../core/async.ts';
import type { InputRecord, LateRecord, OutputRecord } from '../../core/streams/job.ts';
import { LATE_HEADERS } from '../../core/streams/runner.ts';
import { fraudJob, generateTransactions } from '../../examples/streams/fraudDetection.ts';
import { FRAUD_DETECTOR, FRAUD_TOPICS } from '../../examples/streams/fraudDetectionSettings.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { startLocalStack, type LocalStack } from '../../local/stack.ts';
import { uniqueName } from '../support/names.ts';

/**
 * The fraud-detection example end to end on the local stack: the job the CDK app declares (a
 * `StreamProcessor`) runs from its handler module, as Lambda would run it, over transactions
 * produced through the HTTP API; what it appended to `fraud-alerts` and `transactions-late`, read
 * `read_committed`, is exactly what the pure job (`StreamJob.step`) makes of the same records
 * taken in the same steps: nothing missing, nothing twice.
 */

interface WireRecord {
  offset: number;
  key: string | null;
  value: unknown;
  headers: Record<string, string>;
}

describe('the fraud-detection job on the local stack', () => {
  let stack: LocalStack;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${stack.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const readAll = async (topic: string, partition: number): Promise<WireRecord[]> => {
    const out: WireRecord[] = [];
    for (let offset = 0; ;) {
      const page = (await api(
        'GET',
        `/v1/topics/${topic}/partitions/${partition}/records?offset=${offset}&maxRecords=10000&isolation=read_committed`,
      )) as { records: WireRecord[]; nextOffset: number };
      out.push(...page.records);
      if (page.records.length === 0 || page.nextOffset === offset) return out;
      offset = page.nextOffset;
    }
  };

  beforeAll(async () => {
    const base = uniqueName('fraud');
    stack = await startLocalStack({
      port: 0,
      tieringIntervalMs: 0,
      dynamoEndpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL,
      s3Endpoint: process.env.AWS_ENDPOINT_URL_S3,
      bucket: process.env.SLUICE_SEGMENT_BUCKET,
      tables: { log: `${base}-log`, metadata: `${base}-meta` },
      // The synthesized app (with the examples) is where the job comes from; the test rings it itself.
      sagas: { triggerIntervalMs: 0 },
      jobs: { intervalMs: 0 },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('runs the job the CDK app declares, and appends exactly the pure job’s alerts and late records, once each', async () => {
    expect([...stack.jobs!.jobs.keys()]).toStrictEqual([FRAUD_DETECTOR.name]);
    // Before its source exists it does nothing (and commits no state).
    expect((await stack.jobs!.run(FRAUD_DETECTOR.name))[0]).toMatchObject({ steps: 0, records: 0 });
    for (const topic of FRAUD_TOPICS) await api('POST', '/v1/topics', topic);

    // 200 users over 30 minutes (~2,600 transactions), produced in arrival order, in three parts;
    // the job runs after each, as a ring would run it. The first part is over 500 records on some
    // partitions, so one run takes several steps.
    const transactions = generateTransactions({ seed: 11 }).sort((a, b) => a.at - b.at);
    expect(transactions.length).toBeGreaterThan(2000);
    expect(transactions.length).toBeLessThan(4000);
    const source: InputRecord[][] = range(4).map(() => []);
    const runs: number[][] = []; // per run, each partition's end offset when it ran
    const cuts = [Math.floor(transactions.length * 0.85), Math.floor(transactions.length * 0.93), transactions.length];
    let from = 0;
    for (const cut of cuts) {
      for (let i = from; i < cut; i += 250) {
        const part = transactions.slice(i, Math.min(i + 250, cut));
        const { offsets } = (await api('POST', `/v1/topics/${fraudJob.source}/records`, {
          records: part.map((t) => ({ key: t.key, value: t.value })),
        })) as { offsets: { partition: number; offset: number }[] };
        offsets.forEach((o, k) => source[o.partition]!.push({ ...o, value: part[k]!.value }));
      }
      from = cut;
      runs.push(source.map((records) => records.length));
      const [run] = await stack.jobs!.run(FRAUD_DETECTOR.name);
      expect(run!.records).toBe(cut - (cuts[cuts.indexOf(cut) - 1] ?? 0));
    }
    for (const records of source) records.forEach((r, i) => expect(r.offset).toBe(i)); // a fresh topic: offsets from 0

    // The oracle: the pure job over the same records, in the runner's steps (per step, up to
    // maxRecords of each partition from its next offset, partition after partition). No
    // partition goes idle within the test (5 minutes), so the clock does not matter.
    const now = Date.now();
    let state = fraudJob.initialState(range(4));
    const next = range(4).map(() => 0);
    const outputs: OutputRecord[] = [];
    const late: LateRecord[] = [];
    const table = new Map<string, unknown>(); // the alerts table: the last item written per (user, window)
    let steps = 0;
    for (const ends of runs) {
      for (;;) {
        const batch = range(4).flatMap((p) =>
          source[p]!.slice(next[p], Math.min(next[p]! + FRAUD_DETECTOR.maxRecords, ends[p]!)),
        );
        if (batch.length === 0) break;
        for (const r of batch) next[r.partition] = r.offset + 1;
        const result = fraudJob.step(state, batch, now);
        ({ state } = result);
        outputs.push(...result.outputs);
        late.push(...result.late);
        for (const w of result.tableWrites) table.set(JSON.stringify([w.key.pk, w.key.sk]), w.item);
        steps++;
      }
    }
    expect(steps, 'the first run took several steps').toBeGreaterThan(runs.length);
    expect(outputs.length, 'the generator’s fraudsters are caught').toBeGreaterThan(0);
    expect(late.length, 'the generator’s stragglers are late').toBeGreaterThan(0);

    const alerts = (
      await Promise.all(range(FRAUD_TOPICS[1].partitions).map((p) => readAll(fraudJob.spec.sink.topic, p)))
    ).flat();
    const lateRead = await readAll(fraudJob.spec.lateTopic, 0);
    // The same records, as many times each (sliding windows may raise equal alerts: a multiset)...
    const canonical = (xs: { key: unknown; value: unknown }[]) =>
      xs.map((x) => JSON.stringify([x.key, x.value])).sort();
    expect(canonical(alerts)).toStrictEqual(canonical(outputs));
    // ...and in the same order per key (one key, one partition).
    const byKey = (xs: { key: unknown; value: unknown }[]) => {
      const out = new Map<unknown, string[]>();
      for (const x of xs) out.set(x.key, [...(out.get(x.key) ?? []), JSON.stringify(x.value)]);
      return Object.fromEntries([...out].sort(([a], [b]) => String(a).localeCompare(String(b))));
    };
    expect(byKey(alerts)).toStrictEqual(byKey(outputs));
    // The late side output, in order, with where each record came from.
    expect(
      lateRead.map((r) => ({
        value: r.value,
        partition: Number(r.headers[LATE_HEADERS.partition]),
        offset: Number(r.headers[LATE_HEADERS.offset]),
        reason: r.headers[LATE_HEADERS.reason],
      })),
    ).toStrictEqual(late.map((l) => ({ value: l.value, partition: l.partition, offset: l.offset, reason: l.reason })));

    // The alerts table (the job's `toTable`, upserted in each step's transaction): the pure job's items.
    const local = Object.entries(stack.sagas!.tables).find(([id]) => id.startsWith('FraudDetectionAlerts'));
    expect(local, 'the example declares the alerts table').toBeDefined();
    const items: Record<string, unknown>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await dynamoClientFromEnv().send(
        new ScanCommand({ TableName: local![1], ...(start === undefined ? {} : { ExclusiveStartKey: start }) }),
      );
      items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    const sorted = (xs: unknown[]) => xs.map((x) => JSON.stringify(x, Object.keys(x as object).sort())).sort();
    expect(table.size).toBeGreaterThan(0);
    expect(sorted(items)).toStrictEqual(sorted([...table.values()]));

    // Run again: nothing left, nothing appended twice.
    expect((await stack.jobs!.run())[0]).toMatchObject({ records: 0, outputs: 0 });
    expect((await readAll(fraudJob.spec.lateTopic, 0)).length).toBe(lateRead.length);
  });
});
