import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Admin, PartitionConsumer, Producer } from '../../client/index.ts';
import { DEFAULT_SAFETY_POLL_MS } from '../../client/watch.ts';
import type { BenchSection } from '../section.ts';
import { startStackInWorker } from '../stackInWorker.ts';
import { PRICES } from './costPerMessage.ts';

const SAMPLES = Number(process.env.BENCH_IDLE_SAMPLES ?? 40);
const MONTH_S = 30 * 24 * 3600;
const MONTH_MIN = MONTH_S / 60;
/** Lambda duration is not measured locally: an assumed figure per short request, stated in the output. */
const ASSUMED = { requestMs: 100, memoryGb: 0.5 };
const KEEPALIVE_MS = 540_000; // the client re-sends `watch` every 9 minutes (API Gateway's idle timeout is 10)
const CONNECTION_MS = 2 * 3600_000; // API Gateway ends connections after 2 hours: the client reconnects

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const lambdaUsd = (invocations: number, seconds: number, gb: number): number =>
  (invocations / 1e6) * PRICES.lambdaPerMillionRequests + invocations * seconds * gb * PRICES.lambdaGbSecond;
const short = (invocations: number): number => lambdaUsd(invocations, ASSUMED.requestMs / 1000, ASSUMED.memoryGb);

/** Dollars a month for one consumer waiting on an empty topic, per way of waiting. */
export function idleCosts(safetyPollMs: number): { name: string; usd: number; detail: string }[] {
  const longPoll = (waitS: number) => {
    const requests = MONTH_S / waitS;
    // The function is held for the whole wait, at its memory (512 MB), all month.
    const usd =
      (requests / 1e6) * PRICES.httpApiPerMillion +
      lambdaUsd(requests, waitS, 0.5) +
      (requests * 0.5 * PRICES.dynamoReadPerMillion) / 1e6;
    return { requests, usd };
  };
  const ws = (pollMs: number) => {
    const polls = (MONTH_S * 1000) / pollMs;
    const keepAlives = (MONTH_S * 1000) / KEEPALIVE_MS;
    const reconnects = (MONTH_S * 1000) / CONNECTION_MS;
    const messages = 2 * keepAlives + 4 * reconnects; // watch in + its response out; connect, watch, response, disconnect
    const invocations = keepAlives + 3 * reconnects;
    const usd =
      (MONTH_MIN / 1e6) * PRICES.webSocketConnectionMinutesPerMillion +
      (messages / 1e6) * PRICES.webSocketMessagesPerMillion +
      short(invocations) +
      ((keepAlives * 1 + reconnects * 6) / 1e6) * PRICES.dynamoReadPerMillion +
      ((reconnects * 6) / 1e6) * PRICES.dynamoWritePerMillion +
      (polls / 1e6) * PRICES.httpApiPerMillion +
      short(polls) +
      ((polls * 0.5) / 1e6) * PRICES.dynamoReadPerMillion;
    return { polls, usd };
  };
  const sqsReceives = MONTH_S / 20; // 20 s long polls (ReceiveMessage), billed per request
  const lp1 = longPoll(1);
  const lp20 = longPoll(20);
  const wsDefault = ws(safetyPollMs);
  const wsMinute = ws(60_000);
  return [
    {
      name: 'long poll, waitMs 1000 (the client default before this change)',
      usd: lp1.usd,
      detail: `${Math.round(lp1.requests).toLocaleString('en-US')} requests, 512 MB held all month`,
    },
    {
      name: 'long poll, waitMs 20000 (the longest)',
      usd: lp20.usd,
      detail: `${Math.round(lp20.requests).toLocaleString('en-US')} requests, 512 MB held all month`,
    },
    {
      name: `WebSocket doorbell, safety poll every ${safetyPollMs / 60_000} min (the client default)`,
      usd: wsDefault.usd,
      detail: `${MONTH_MIN.toLocaleString('en-US')} connection-minutes, keep-alive every 9 min, reconnect every 2 h, ${Math.round(wsDefault.polls).toLocaleString('en-US')} polls`,
    },
    {
      name: 'WebSocket doorbell, safety poll every minute',
      usd: wsMinute.usd,
      detail: `as above, ${Math.round(wsMinute.polls).toLocaleString('en-US')} polls`,
    },
    {
      name: 'SQS long polling (peer)',
      usd: (sqsReceives / 1e6) * PRICES.sqsPerMillionRequests,
      detail: `${sqsReceives.toLocaleString('en-US')} ReceiveMessage calls of 20 s`,
    },
  ];
}

/**
 * Waiting for free: produce-to-delivery latency of a consumer woken by the WebSocket doorbell
 * (the log table's stream → dispatcher → PostToConnection, all local) against one polling every
 * second; the HTTP requests an idle watching consumer makes; and what one idle consumer costs a
 * month each way, from list prices.
 */
export const idleSection: BenchSection = {
  name: 'idle',
  async run(_client: DynamoDBClient) {
    const stack = await startStackInWorker({
      port: 0,
      tieringIntervalMs: 0,
      sagas: false,
      watchers: true,
      dynamoEndpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL,
      ...(process.env.AWS_ENDPOINT_URL_S3 === undefined ? {} : { s3Endpoint: process.env.AWS_ENDPOINT_URL_S3 }),
      ...(process.env.SLUICE_SEGMENT_BUCKET === undefined ? {} : { bucket: process.env.SLUICE_SEGMENT_BUCKET }),
      tables: { log: 'bench-idle-log', metadata: 'bench-idle-meta' },
    });
    try {
      const admin = new Admin({ url: stack.url });
      await admin.createTopic('idle-bench', { partitions: 1 }).catch(() => undefined);
      await admin.createTopic('idle-bench-empty', { partitions: 1 }).catch(() => undefined);
      const producer = new Producer({ url: stack.url });

      // The WebSocket-notified consumer: each sample produces one record while the consumer waits.
      const watching = new PartitionConsumer({
        url: stack.url,
        topic: 'idle-bench',
        partition: 0,
        autoOffsetReset: 'latest',
        waitMs: 20_000,
      });
      const ws: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const polled = watching.poll();
        // Produce at a random moment once the consumer waits (as records arrive whenever they do).
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
        const t = performance.now();
        await producer.send('idle-bench', { value: { i }, partition: 0 });
        const got = await polled;
        if (got.length === 0) throw new Error('the watching consumer got nothing');
        ws.push(performance.now() - t);
      }
      const longPollsWatching = watching.waiting.fetches.longPolls;
      watching.close();

      // A consumer polling every second (no wait on the server).
      const polling = new PartitionConsumer({
        url: stack.url,
        topic: 'idle-bench',
        partition: 0,
        autoOffsetReset: 'latest',
        watch: false,
      });
      await polling.poll({ waitMs: 0 });
      const every1s: number[] = [];
      let stop = false;
      const arrivals: number[] = [];
      const loop = (async () => {
        while (!stop) {
          const got = await polling.poll({ waitMs: 0 });
          for (let k = 0; k < got.length; k++) arrivals.push(performance.now());
          await new Promise((r) => setTimeout(r, 1000));
        }
      })();
      for (let i = 0; i < Math.min(SAMPLES, 20); i++) {
        await new Promise((r) => setTimeout(r, 300 + Math.random() * 900));
        const before = arrivals.length;
        const t = performance.now();
        await producer.send('idle-bench', { value: { i }, partition: 0 });
        while (arrivals.length === before) await new Promise((r) => setTimeout(r, 5));
        every1s.push(arrivals[before]! - t);
      }
      stop = true;
      await loop;
      await producer.close();

      // An idle watching consumer: HTTP requests in 10 s of waiting on an empty topic.
      const idle = new PartitionConsumer({ url: stack.url, topic: 'idle-bench-empty', partition: 0, waitMs: 1000 });
      const idleStart = Date.now();
      while (Date.now() - idleStart < 10_000) await idle.poll();
      const idleFetches = idle.waiting.fetches;
      idle.close();

      ws.sort((a, b) => a - b);
      every1s.sort((a, b) => a - b);
      const p = (xs: number[], q: number) => percentile(xs, q);
      const costs = idleCosts(DEFAULT_SAFETY_POLL_MS);
      const defaultCost = costs[2]!.usd;
      return {
        title: 'Waiting for free: WebSocket doorbells vs polling (local stack, DynamoDB Local)',
        table: [
          '| consumer | samples | p50 ms | p99 ms |',
          '|---|---:|---:|---:|',
          `| WebSocket-notified (stream → dispatcher → PostToConnection → fetch) | ${ws.length} | ${p(ws, 50).toFixed(0)} | ${p(ws, 99).toFixed(0)} |`,
          `| polling every 1 s | ${every1s.length} | ${p(every1s, 50).toFixed(0)} | ${p(every1s, 99).toFixed(0)} |`,
          `| ratio (WebSocket / 1 s polling) | | ${(p(ws, 50) / p(every1s, 50)).toFixed(2)} | ${(p(ws, 99) / p(every1s, 99)).toFixed(2)} |`,
          '',
          '| one consumer waiting on an empty topic | USD / month | what is billed |',
          '|---|---:|---|',
          ...costs.map((c) => `| ${c.name} | ${c.usd.toFixed(4)} | ${c.detail} |`),
        ].join('\n'),
        notes: [
          `Long polls by the watching consumer during the ${ws.length} deliveries: ${longPollsWatching}. An idle watching consumer made ${idleFetches.immediate} fetches (waitMs 0) and ${idleFetches.longPolls} long polls in 10 s of polls.`,
          `The local doorbell reads DynamoDB Local's stream every 150 ms (local/streams.ts); on AWS the event source's own latency replaces that. Latencies are local and only their ratio is a claim.`,
          `Costs assume ${ASSUMED.requestMs} ms per short Lambda request at 512 MB and a 30-day month; a long poll holds its function for the whole wait. Prices (us-east-1, ../shared/docs/prices.md): HTTP API $${PRICES.httpApiPerMillion}/M requests; WebSocket $${PRICES.webSocketMessagesPerMillion}/M messages, $${PRICES.webSocketConnectionMinutesPerMillion}/M connection-minutes; Lambda $${PRICES.lambdaPerMillionRequests}/M requests, $${PRICES.lambdaGbSecond}/GB-s; DynamoDB $${PRICES.dynamoReadPerMillion}/M reads, $${PRICES.dynamoWritePerMillion}/M writes; SQS $${PRICES.sqsPerMillionRequests}/M requests.`,
          'A group consumer also heartbeats every sessionTimeout/3 (10 s by default) whatever it waits with; that is not counted here.',
        ],
        summary: {
          idleConsumerUsdPerMonth: Number(defaultCost.toFixed(4)),
          idleLongPollUsdPerMonth: Number(costs[0]!.usd.toFixed(2)),
          deliveryP99Ms: Math.round(p(ws, 99)),
          deliveryP50Ms: Math.round(p(ws, 50)),
          deliveryP50RatioVsPolling1s: Number((p(ws, 50) / p(every1s, 50)).toFixed(2)),
        },
      };
    } finally {
      await stack.stop();
    }
  },
};
