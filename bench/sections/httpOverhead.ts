import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { startLocalStack } from '../../local/stack.ts';
import { orderEvents } from '../orderEvents.ts';
import type { BenchSection } from '../section.ts';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Produce latency through the local gateway (HTTP → API Gateway v2 event → the produce handler →
 * core) against a direct core call, for 1 and 100 records per request, interleaved in one run.
 */
export const httpOverheadSection: BenchSection = {
  name: 'http',
  async run(client: DynamoDBClient) {
    const tables = { log: 'bench-http-log', metadata: 'bench-http-meta' };
    const stack = await startLocalStack({
      port: 0,
      dynamoEndpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL,
      tables,
    });
    try {
      const store = new DynamoStore({ client, tables });
      const direct = new Sluice({ log: store, metadata: store });
      await direct.createTopic('http-bench', { config: { compression: 'zstd' } });
      const events = orderEvents(100, 3).map((e) => ({ key: e.key, value: e.value, partition: 0 }));
      const rows: string[] = [];
      const summary: Record<string, number> = {};
      for (const size of [1, 100]) {
        const batch = events.slice(0, size);
        const body = JSON.stringify({ records: batch });
        const viaHttp = async (): Promise<void> => {
          const res = await fetch(`${stack.url}/v1/topics/http-bench/records`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
        };
        const viaCore = async (): Promise<void> => {
          await direct.append('http-bench', batch);
        };
        for (let i = 0; i < 10; i++) await Promise.all([viaHttp(), viaCore()]); // warm-up
        const http: number[] = [];
        const core: number[] = [];
        const iterations = size === 1 ? 300 : 150;
        for (let i = 0; i < iterations; i++) {
          // Alternate the two so machine noise hits both alike.
          for (const [fn, out] of i % 2 === 0
            ? ([
                [viaHttp, http],
                [viaCore, core],
              ] as const)
            : ([
                [viaCore, core],
                [viaHttp, http],
              ] as const)) {
            const t = performance.now();
            await fn();
            out.push(performance.now() - t);
          }
        }
        http.sort((a, b) => a - b);
        core.sort((a, b) => a - b);
        const p50 = [percentile(http, 50), percentile(core, 50)] as const;
        const p99 = [percentile(http, 99), percentile(core, 99)] as const;
        rows.push(
          `| ${size} | ${p50[1].toFixed(2)} | ${p50[0].toFixed(2)} | ${(p50[0] / p50[1]).toFixed(2)} | ${p99[1].toFixed(2)} | ${p99[0].toFixed(2)} | ${(p99[0] / p99[1]).toFixed(2)} |`,
        );
        summary[`httpOverheadP50RatioBatch${size}`] = Number((p50[0] / p50[1]).toFixed(2));
      }
      return {
        title: 'HTTP produce through the local gateway vs a direct core call (DynamoDB Local)',
        table: [
          '| records / request | core p50 ms | HTTP p50 ms | p50 ratio | core p99 ms | HTTP p99 ms | p99 ratio |',
          '|---:|---:|---:|---:|---:|---:|---:|',
          ...rows,
        ].join('\n'),
        notes: [
          'The HTTP path adds JSON parsing, the API Gateway v2 event, middy and Powertools middlewares and the error mapper; on AWS, API Gateway and Lambda add their own network hops on top.',
        ],
        summary,
      };
    } finally {
      await stack.stop();
    }
  },
};
