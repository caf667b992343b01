import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoLeases } from '../../core/adapters/dynamodb/dynamoLeases.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { DynamoGroupStore } from '../../core/groups/dynamoGroupStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { Dispatcher } from '../../core/subscriptions/delivery.ts';
import { DynamoSubscriptionStore } from '../../core/subscriptions/dynamoSubscriptionStore.ts';
import { Subscriptions } from '../../core/subscriptions/subscriptions.ts';
import { startLocalStack } from '../../local/stack.ts';
import { meteredClient } from '../meteredClient.ts';
import type { BenchSection } from '../section.ts';
import { PRICES } from './costPerMessage.ts';

const OTHER_SUBSCRIPTIONS = 10;
const UNRELATED_APPENDS = 50;
const DELIVERIES = 100;
const IDLE_RUNS = 20;
/** Scheduled runs a month (one a minute). */
const RUNS_PER_MONTH = 43_200;
/** An assumption, not a measurement: a scheduled dispatcher run that finds nothing, at 512 MB. */
const IDLE_RUN_SECONDS = 0.1;
const LAMBDA_GB = 0.5;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function post(url: string, body: unknown): Promise<Record<string, unknown> | undefined> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`HTTP ${res.status}: ${text}`);
  return text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
}

/**
 * Push delivery. (1) The doorbell's selectivity: with 10 subscriptions on other topics, how many
 * subscription runs and target invocations an append to an unsubscribed topic causes (target 0),
 * through the dispatcher handler given the stream record the append makes. (2) Produce-to-delivery
 * latency for a Lambda-target subscription (local stack; the ring sent right after the append, as
 * the stream sends it) against a consumer polling every second. (3) What an idle subscription
 * costs: DynamoDB units of a scheduled run that finds nothing, priced per month.
 */
export const subscriptionsSection: BenchSection = {
  name: 'subscriptions',
  async run(_client: DynamoDBClient) {
    const tables = { log: 'bench-subs-log', metadata: 'bench-subs-meta' };
    const stack = await startLocalStack({
      port: 0,
      sagas: false,
      tieringIntervalMs: 0,
      subscriptionIntervalMs: 0, // the bench rings the dispatcher itself
      dynamoEndpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL,
      tables,
    });
    try {
      const { handler } = (await import('../../functions/subscriptions/dispatcher.ts')) as unknown as {
        handler: (event: unknown, context: unknown) => Promise<{ runs: unknown[] }>;
      };
      const context = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 60_000 };
      const ring = async (topicId: string) =>
        handler(
          { Records: [{ eventName: 'INSERT', dynamodb: { Keys: { pk: { S: `${topicId}#0` }, sk: { S: '0' } } } }] },
          context,
        );
      let invocations = 0;
      const received = new Map<number, number>();
      stack.aws.defineFunction('bench-target', async (event) => {
        invocations++;
        for (const r of (event as { records: { value: { n: number } }[] }).records) received.set(r.value.n, Date.now());
        return {};
      });
      // Ten subscriptions on ten other topics, and one quiet topic nobody subscribes to.
      for (let i = 0; i < OTHER_SUBSCRIPTIONS; i++) {
        await post(`${stack.url}/v1/topics`, { name: `bench-sub-${i}`, partitions: 1 });
        await post(`${stack.url}/v1/subscriptions`, {
          name: `bench-sub-${i}`,
          topic: `bench-sub-${i}`,
          target: { type: 'lambda', functionName: 'bench-target' },
        });
      }
      const quiet = await post(`${stack.url}/v1/topics`, { name: 'bench-quiet', partitions: 1 });
      let runs = 0;
      for (let i = 0; i < UNRELATED_APPENDS; i++) {
        await post(`${stack.url}/v1/topics/bench-quiet/records`, { records: [{ value: { i } }] });
        runs += (await ring(quiet!.topicId as string)).runs.length;
      }
      const unrelated = { runs: runs / UNRELATED_APPENDS, invocations: invocations / UNRELATED_APPENDS };

      // Latency: append, ring (as the stream does), delivered; against polling every second.
      const { topicId } = (await (await fetch(`${stack.url}/v1/topics/bench-sub-0`)).json()) as { topicId: string };
      await ring(topicId); // the subscription joins its group
      const sent = new Map<number, number>();
      for (let n = 0; n < DELIVERIES; n++) {
        sent.set(n, Date.now());
        await post(`${stack.url}/v1/topics/bench-sub-0/records`, { records: [{ value: { n } }] });
        await ring(topicId);
      }
      const pushed = [...sent].map(([n, at]) => (received.get(n) ?? Infinity) - at).sort((a, b) => a - b);
      // A consumer polling every second finds a record on average half a second after it lands:
      // measured here as the wait until the next tick of a 1 s clock started before the sends.
      const start = Math.min(...sent.values());
      const polled = [...sent.values()].map((at) => 1000 - ((at - start) % 1000)).sort((a, b) => a - b);

      // Idle: a scheduled run of one subscription with nothing to deliver, metered.
      const meter = meteredClient();
      const idleTables = { log: 'bench-subs-idle-log', metadata: 'bench-subs-idle-meta' };
      await createTables(meter.client, idleTables);
      const store = new DynamoStore({ client: meter.client, tables: idleTables });
      const sluice = new Sluice({ log: store, metadata: store });
      const groups = new ConsumerGroups({
        store: new DynamoGroupStore({ client: meter.client, table: idleTables.metadata }),
        sluice,
      });
      const subStore = new DynamoSubscriptionStore({ client: meter.client, table: idleTables.metadata });
      await sluice.createTopic('idle', { partitions: 1 });
      await new Subscriptions({ store: subStore, sluice, groups }).create({
        name: 'idle',
        topic: 'idle',
        target: { type: 'lambda', functionName: 'none' },
      });
      const dispatcher = new Dispatcher({
        sluice,
        groups,
        store: subStore,
        leases: new DynamoLeases({ client: meter.client, table: idleTables.metadata }),
        target: { deliver: async () => ({ failed: [] }) },
      });
      await dispatcher.run('idle'); // joins
      meter.reset();
      for (let i = 0; i < IDLE_RUNS; i++) {
        await subStore.list(); // the scheduled handler's listing
        await dispatcher.run('idle');
      }
      const idle = meter.read();
      const perRun = {
        requests: idle.requests / IDLE_RUNS,
        read: idle.read / IDLE_RUNS,
        write: idle.write / IDLE_RUNS,
      };
      const idleUsd =
        RUNS_PER_MONTH *
        ((perRun.read * PRICES.dynamoReadPerMillion) / 1e6 +
          (perRun.write * PRICES.dynamoWritePerMillion) / 1e6 +
          PRICES.lambdaPerMillionRequests / 1e6 +
          IDLE_RUN_SECONDS * LAMBDA_GB * PRICES.lambdaGbSecond);
      const p50 = percentile(pushed, 50);
      const p99 = percentile(pushed, 99);
      const pollP50 = percentile(polled, 50);
      const table = [
        '| measure | value |',
        '|---|---:|',
        `| subscription runs per append to an unsubscribed topic (${OTHER_SUBSCRIPTIONS} subscriptions on other topics) | ${unrelated.runs.toFixed(2)} |`,
        `| target invocations per such append | ${unrelated.invocations.toFixed(2)} |`,
        `| produce-to-delivery, Lambda target, p50 / p99 (ms, local) | ${p50} / ${p99} |`,
        `| a consumer polling every 1 s, p50 / p99 (ms) | ${pollP50} / ${percentile(polled, 99)} |`,
        `| p50 ratio, polling ÷ push | ${(pollP50 / Math.max(1, p50)).toFixed(1)} |`,
        `| idle scheduled run: DynamoDB requests / read units / write units | ${perRun.requests.toFixed(1)} / ${perRun.read.toFixed(1)} / ${perRun.write.toFixed(1)} |`,
        `| idle subscription, USD per month (one run a minute) | ${idleUsd.toFixed(4)} |`,
      ].join('\n');
      return {
        title: 'Subscriptions: push delivery',
        table,
        notes: [
          'The ring is the dispatcher handler called with the stream record the append wrote (its log key), right after the append; in AWS the stream adds its own delay (the event source’s batching window is 0, so typically well under a second). Latencies are local figures: read the ratio.',
          `Idle cost: ${RUNS_PER_MONTH.toLocaleString('en')} scheduled runs a month, each the listing plus one subscription run that finds nothing (lease, describe of its group, its state, the tail), priced at DynamoDB $${PRICES.dynamoReadPerMillion}/M reads and $${PRICES.dynamoWritePerMillion}/M writes, Lambda $${PRICES.lambdaPerMillionRequests}/M requests and $${PRICES.lambdaGbSecond}/GB-s for an assumed ${IDLE_RUN_SECONDS * 1000} ms at 512 MB (an assumption, not a measurement). Appends ring only the subscriptions of their topic, so an idle subscription costs nothing more.`,
        ],
        summary: {
          subscriptionRunsPerUnrelatedAppend: Number(unrelated.runs.toFixed(2)),
          subscriptionInvocationsPerUnrelatedAppend: Number(unrelated.invocations.toFixed(2)),
          subscriptionDeliveryP50Ms: p50,
          subscriptionDeliveryP99Ms: p99,
          idleSubscriptionUsdPerMonth: Number(idleUsd.toFixed(4)),
        },
      };
    } finally {
      await stack.stop();
    }
  },
};
