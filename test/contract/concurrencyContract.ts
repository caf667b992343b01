import { describe, expect, it } from 'vitest';
import type { LogStore } from '../../core/ports.ts';
import { Sluice, type RecordMetadata } from '../../core/log/sluice.ts';
import { prng } from '../support/prng.ts';
import type { Store, StoreKind } from '../support/stores.ts';

/**
 * Injects faults into `putBatch`: with probability `rate` a call fails, half the time after the
 * write landed (ambiguous) and half the time before it was sent.
 */
function faulty(
  store: Store,
  rate: number,
  random: () => number,
): Store & { injected: { before: number; after: number }; lostRaces: number } {
  const wrapped = Object.create(store) as Store & { injected: { before: number; after: number }; lostRaces: number };
  wrapped.injected = { before: 0, after: 0 };
  wrapped.lostRaces = 0;
  wrapped.putBatch = async (...args: Parameters<LogStore['putBatch']>) => {
    const roll = random();
    if (roll < rate / 2) {
      wrapped.injected.before++;
      throw Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' });
    }
    const result = await store.putBatch(...args);
    // A put that found another writer's batch at its offset: a failed conditional write, billed.
    if (result.outcome === 'offset-taken' && result.existing?.writerId !== args[0].writerId) wrapped.lostRaces++;
    if (roll < rate) {
      wrapped.injected.after++;
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
    return result;
  };
  return wrapped;
}

export interface ConcurrencyParams {
  readonly producers: number;
  readonly recordsPerProducer: number;
  readonly faultRate: number;
}

/**
 * Many producers append to one partition at once, through separate engine instances (as separate
 * Lambda containers would), with injected faults. The full history is then checked.
 */
export function concurrencyContract(kind: StoreKind, params: ConcurrencyParams): void {
  describe(`concurrent appends: ${kind.name}`, () => {
    it(`${params.producers} producers × ${params.recordsPerProducer} records on one partition: offsets 0..N-1, no duplicates, no holes, per-producer order kept`, async () => {
      const base = await kind.make();
      const random = prng(20261127);
      const admin = new Sluice({ log: base, metadata: base, ...kind.engine?.(base) });
      await admin.createTopic('contended', { config: { compression: 'zstd' } });

      const acks = new Map<string, RecordMetadata>(); // "producer/seq" → where it landed
      const injected = { before: 0, after: 0 };
      let lostRaces = 0;
      const producer = async (p: number): Promise<void> => {
        const store = faulty(base, params.faultRate, random);
        // default backoff: contention is what this test is about
        const sluice = new Sluice({ log: store, metadata: store, retry: {}, ...kind.engine?.(base) });
        const idempotent = p % 4 === 0; // a quarter of the producers also use idempotence
        let seq = 0;
        while (seq < params.recordsPerProducer) {
          const size = Math.min(1 + Math.floor(random() * 8), params.recordsPerProducer - seq);
          const records = Array.from({ length: size }, (_, k) => ({
            key: null,
            partition: 0,
            value: { p, seq: seq + k },
          }));
          const options = idempotent ? { producer: { id: `producer-${p}`, epoch: 0, sequence: seq } } : {};
          let metas: RecordMetadata[] | undefined;
          for (let attempt = 0; metas === undefined; attempt++) {
            try {
              metas = await sluice.append('contended', records, options);
            } catch (e) {
              // Only an idempotent producer may safely resend after the engine gave up.
              if (!idempotent || attempt > 5) throw e;
            }
          }
          metas.forEach((m, k) => acks.set(`${p}/${seq + k}`, m));
          seq += size;
        }
        injected.before += store.injected.before;
        injected.after += store.injected.after;
        lostRaces += store.lostRaces;
      };
      await Promise.all(Array.from({ length: params.producers }, (_, p) => producer(p)));

      const total = params.producers * params.recordsPerProducer;
      expect(acks.size).toBe(total);
      const offsets = [...acks.values()].map((m) => m.offset).sort((a, b) => a - b);
      expect(offsets, 'acknowledged offsets are exactly 0..N-1').toStrictEqual(
        Array.from({ length: total }, (_, i) => i),
      );
      for (let p = 0; p < params.producers; p++) {
        for (let seq = 1; seq < params.recordsPerProducer; seq++) {
          expect(
            acks.get(`${p}/${seq}`)!.offset > acks.get(`${p}/${seq - 1}`)!.offset,
            `producer ${p} order at ${seq}`,
          ).toBeTruthy();
        }
      }
      const log: unknown[] = [];
      for (let offset = 0; ;) {
        const page = await admin.read('contended', 0, offset, { maxRecords: 1000 });
        log.push(...page.records.map((r) => r.value));
        expect(
          page.records.every((r, i) => r.offset === offset + i),
          'read offsets are consecutive',
        ).toBeTruthy();
        offset = page.nextOffset;
        if (offset >= page.highWatermark) {
          expect(page.highWatermark).toBe(total);
          break;
        }
      }
      expect(log.length, 'a full read returns exactly the acknowledged records').toBe(total);
      for (const [id, meta] of acks) {
        const [p, seq] = id.split('/').map(Number);
        expect(log[meta.offset], `offset ${meta.offset} holds what was acknowledged for ${id}`).toStrictEqual({
          p,
          seq,
        });
      }
      if (params.faultRate > 0) expect(injected.before > 0 && injected.after > 0, 'faults were injected').toBeTruthy();
      expect(lostRaces, 'no writer lost a race for an offset: reservations do not conflict').toBe(0);
      console.log(
        `# ${kind.name}: ${total} records, faults injected before write ${injected.before}, after write ${injected.after}`,
      );
    });
  });
}
