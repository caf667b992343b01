import { BatchWriteItemCommand, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { DynamoExchangeStore } from '../../core/exchanges/dynamoExchangeStore.ts';
import { bindingId, type Binding, type StoredBinding } from '../../core/exchanges/exchange.ts';
import { Exchanges } from '../../core/exchanges/exchanges.ts';
import { RoutingIndex } from '../../core/exchanges/routingIndex.ts';
import { topicMatches } from '../../core/exchanges/topicTrie.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { metadataKeys } from '../../core/schema.ts';
import { meteredClient } from '../meteredClient.ts';
import type { BenchSection } from '../section.ts';

const WORDS = ['eu', 'us', 'apac', 'order', 'invoice', 'refund', 'created', 'paid', 'failed', 'shipped'];

/** A deterministic pseudo-random generator (mulberry32), so runs compare. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` distinct topic patterns of 3 to 5 words (tenant-like prefixes make them distinct), some `*` and `#`. */
function patterns(n: number, random: () => number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const words = [`t${i}`];
    const length = 2 + Math.floor(random() * 3);
    for (let w = 0; w < length; w++) {
      const r = random();
      words.push(r < 0.15 ? '*' : r < 0.22 ? '#' : WORDS[Math.floor(random() * WORDS.length)]!);
    }
    out.push(words.join('.'));
  }
  return out;
}

function keys(n: number, bindings: number, random: () => number): string[] {
  return Array.from({ length: n }, () => {
    const words = [`t${Math.floor(random() * bindings)}`];
    const length = 2 + Math.floor(random() * 3);
    for (let w = 0; w < length; w++) words.push(WORDS[Math.floor(random() * WORDS.length)]!);
    return words.join('.');
  });
}

const stored = (pattern: string, i: number): StoredBinding => {
  const binding: Binding = { destination: { topic: `topic-${i % 100}` }, bindingKey: pattern, arguments: {} };
  return { id: bindingId(binding), ...binding };
};

/** µs per match over `keys`, best of 3 rounds. */
function timeMatches(match: (key: string) => unknown, list: readonly string[]): number {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (const k of list) match(k);
    best = Math.min(best, ((performance.now() - t0) * 1000) / list.length);
  }
  return best;
}

/**
 * Exchanges: the routing cost per publish with 10 and 10,000 topic-pattern bindings (the trie's
 * match in process, and a linear scan of every pattern for comparison), then the full publish path
 * on DynamoDB Local: requests per destination, warm and on a cache fill (one Query of the exchange).
 */
export const exchangesSection: BenchSection = {
  name: 'exchanges',
  async run() {
    const random = prng(42);
    const rows: string[][] = [];
    const summary: Record<string, number> = {};
    for (const n of [10, 10_000]) {
      const list = patterns(n, random).map(stored);
      const buildStart = performance.now();
      const index = new RoutingIndex('topic', list);
      const buildMs = performance.now() - buildStart;
      const sample = keys(20_000, n, random);
      const trie = timeMatches((k) => index.match({ routingKey: k }), sample);
      const scan = timeMatches((k) => list.filter((b) => topicMatches(b.bindingKey, k)), sample.slice(0, 2_000));
      rows.push([n.toLocaleString('en'), trie.toFixed(2), scan.toFixed(1), buildMs.toFixed(1)]);
      if (n === 10_000) summary.routeMicrosWith10kBindings = Number(trie.toFixed(2));
      else summary.routeMicrosWith10Bindings = Number(trie.toFixed(2));
    }

    // The full path on DynamoDB: an exchange with 10,000 bindings, two of which match the key.
    const meter = meteredClient();
    const tables = { log: 'bench-exchanges-log', metadata: 'bench-exchanges-meta' };
    await createTables(meter.client, tables);
    const store = new DynamoStore({ client: meter.client, tables });
    const sluice = new Sluice({ log: store, metadata: store });
    const exchangeStore = new DynamoExchangeStore({ client: meter.client, table: tables.metadata });
    const exchanges = new Exchanges({ store: exchangeStore, sluice });
    for (const t of ['bench-a', 'bench-b']) await sluice.createTopic(t, { partitions: 4 });
    await exchanges.declare('bench', { type: 'topic' });
    await exchanges.bind('bench', { destination: { topic: 'bench-a' }, bindingKey: 'order.*.paid' });
    await exchanges.bind('bench', { destination: { topic: 'bench-b' }, bindingKey: 'order.#' });
    // 9,998 more, written straight as items (bench set-up only: binding one by one costs ~1 min here).
    const meta = unmarshall(
      (
        await meter.client.send(
          new GetItemCommand({ TableName: tables.metadata, Key: marshall(metadataKeys.exchangeMeta('bench')) }),
        )
      ).Item!,
    );
    const filler = patterns(9_998, random).map(stored);
    for (let i = 0; i < filler.length; i += 25) {
      const items = filler.slice(i, i + 25).map((b) => ({
        PutRequest: { Item: marshall({ ...metadataKeys.exchangeBinding('bench', b.id), ...b, inc: meta.inc }) },
      }));
      let pending: typeof items | undefined = items;
      while (pending !== undefined && pending.length > 0) {
        const res = await meter.client.send(
          new BatchWriteItemCommand({ RequestItems: { [tables.metadata]: pending } }),
        );
        pending = res.UnprocessedItems?.[tables.metadata] as typeof items | undefined;
      }
    }
    exchanges.invalidate();
    meter.reset();
    await exchanges.publish('bench', { routingKey: 'order.eu.paid', value: { n: 0 } });
    const fill = meter.read();
    const costOf = async (messageId: boolean, count: number) => {
      meter.reset();
      const t0 = performance.now();
      for (let i = 0; i < count; i++)
        await exchanges.publish('bench', {
          routingKey: 'order.eu.paid',
          value: { n: i },
          ...(messageId ? { messageId: `m-${i}` } : {}),
        });
      const m = meter.read();
      return { requests: m.requests / count / 2, write: m.write / count / 2, ms: (performance.now() - t0) / count };
    };
    const plain = await costOf(false, 50);
    const idempotent = await costOf(true, 50);
    const table = [
      '| topic-pattern bindings | trie match µs per publish | linear scan µs | index build ms |',
      '|---:|---:|---:|---:|',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
      '',
      '| publish path (10,000 bindings, 2 destinations) | DynamoDB requests per destination | write units per destination | ms per publish (DynamoDB Local) |',
      '|---|---:|---:|---:|',
      `| warm cache | ${plain.requests.toFixed(1)} | ${plain.write.toFixed(1)} | ${plain.ms.toFixed(1)} |`,
      `| warm cache, with messageId (idempotent) | ${idempotent.requests.toFixed(1)} | ${idempotent.write.toFixed(1)} | ${idempotent.ms.toFixed(1)} |`,
      `| cache fill (first publish in a container, or every 5 s) | ${fill.requests} requests in all, ${fill.read.toFixed(1)} read units | | |`,
    ].join('\n');
    summary.exchangePublishRequestsPerDestination = Number(plain.requests.toFixed(2));
    summary.exchangeIdempotentPublishRequestsPerDestination = Number(idempotent.requests.toFixed(2));
    return {
      title: 'Exchanges: routing cost',
      table,
      notes: [
        'Patterns are 3 to 5 words (a distinct first word, then words from a vocabulary of 10, 15 % `*`, 7 % `#`); keys are 3 to 5 words; 20,000 keys per size, best of 3 rounds.',
        'The trie walks the key once: its cost depends on the key and the patterns sharing its prefixes, not on how many bindings exist; a linear scan grows with the bindings.',
        'The full path appends once per destination topic through the engine; the routing index is cached per container for 5 s.',
      ],
      summary,
    };
  },
};
