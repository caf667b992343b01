import { describe, expect, it } from 'vitest';
import { Sluice, type RecordMetadata } from '../../core/log/sluice.ts';
import { GAP_FILL_AFTER_MS, RESERVATION_MAX_AGE_MS } from '../../core/log/gaps.ts';
import { logKey, type LogStore } from '../../core/ports.ts';
import { Tiering } from '../../core/tiering/tiering.ts';
import { prng } from '../support/prng.ts';
import type { TieredKind } from '../support/stores.ts';
import { clock } from '../support/clock.ts';

const SECOND = 1000;

/**
 * Every record of partition 0 from offset 0, as `{offset, value}`, reading through gap fillers.
 * With `untilGap`, it stops at a gap a live writer may still fill; without, such a gap is an error.
 */
async function readAll(sluice: Sluice, topic: string, untilGap = false): Promise<{ offset: number; value: unknown }[]> {
  const out: { offset: number; value: unknown }[] = [];
  for (let offset = 0, empty = 0; ;) {
    const page = await sluice.read(topic, 0, offset, { maxRecords: 50 });
    out.push(...page.records.map((r) => ({ offset: r.offset, value: r.value })));
    if (page.nextOffset >= page.highWatermark) return out;
    empty = page.records.length === 0 && page.nextOffset === offset ? empty + 1 : 0;
    if (empty > 0 && untilGap) return out;
    if (empty > 3) throw new Error(`the read is stuck at ${offset} below the high watermark ${page.highWatermark}`);
    offset = page.nextOffset;
  }
}

/**
 * Writers whose puts are held (a stall: a paused process, a slow network) or never sent (a writer
 * that died after reserving its offsets), beside a roller running at its real `minRollAgeMs` and
 * readers, on a clock that the test moves. The invariant under test: every acknowledged record
 * is read back exactly once at its offset, and nothing else is read.
 */
export function writeSafetyContract(kind: TieredKind): void {
  describe(`write safety under stalls, deaths and rolls: ${kind.name}`, () => {
    it('a writer that died after reserving leaves a gap that readers wait at, then fill; a stalled writer loses to the filler and writes again', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const tiered = { store, objects };
      const admin = new Sluice({ log: store, metadata: store, tiering: tiered, now: c.now });
      await admin.createTopic('gaps', { config: { partitions: 1 } });
      let release: (() => void) | undefined;
      const held = Object.create(store) as typeof store;
      held.putBatch = async (...args: Parameters<LogStore['putBatch']>) => {
        if (release === undefined) await new Promise<void>((resolve) => (release = resolve)); // the first put only
        return store.putBatch(...args);
      };
      const stalled = new Sluice({ log: held, metadata: held, tiering: { store: held, objects }, now: c.now });
      const late = stalled.append('gaps', [{ partition: 0, value: 'late' }]);
      await expect.poll(() => release !== undefined).toBe(true); // reserved offset 0, put held
      const [after] = await admin.append('gaps', [{ partition: 0, value: 'after' }]);
      expect(after!.offset, 'the next writer is not held up by the one before').toBe(1);

      const waiting = await admin.read('gaps', 0, 0);
      expect(
        [waiting.records.length, waiting.nextOffset, waiting.highWatermark],
        'readers wait at the gap',
      ).toStrictEqual([0, 0, 2]);
      c.advance(GAP_FILL_AFTER_MS + SECOND);
      const filled = await admin.read('gaps', 0, 0);
      expect(
        filled.records.map((r) => [r.offset, r.value]),
        'once stale, the gap is filled and skipped',
      ).toStrictEqual([[1, 'after']]);

      release!(); // the stalled put goes on: it loses to the filler and the record is written again
      const [lateMeta] = await late;
      expect(lateMeta!.offset).toBe(2);
      expect(await readAll(admin, 'gaps')).toStrictEqual([
        { offset: 1, value: 'after' },
        { offset: 2, value: 'late' },
      ]);
      expect(RESERVATION_MAX_AGE_MS < GAP_FILL_AFTER_MS).toBe(true);
    });

    it('writers with stalls and deaths beside a roller at its real minRollAgeMs: every acknowledged record exactly once, at its offset', async () => {
      const c = clock();
      const random = prng(20261129);
      const { store, objects } = await kind.make(c.now);
      const tiered = { store, objects };
      const admin = new Sluice({ log: store, metadata: store, tiering: tiered, now: c.now });
      await admin.createTopic('safe', { config: { partitions: 1, hotRetentionMs: 60 * SECOND, compression: 'zstd' } });
      const roller = new Tiering({ log: store, metadata: store, store, objects, now: c.now }); // minRollAgeMs: the real 60 s

      const held: (() => void)[] = [];
      let deaths = 0;
      let stalls = 0;
      let puts = 0;
      const acks = new Map<string, RecordMetadata>();
      const writer = async (w: number): Promise<void> => {
        const faulty = Object.create(store) as typeof store;
        faulty.putBatch = async (...args: Parameters<LogStore['putBatch']>) => {
          const roll = random();
          if (++puts % 40 === 7 && deaths < 3) {
            deaths++;
            return new Promise(() => {}); // died after reserving: the put is never sent
          }
          if (roll < 0.2) {
            stalls++;
            await new Promise<void>((resolve) => held.push(resolve)); // until the driver moves time on
          }
          return store.putBatch(...args);
        };
        const sluice = new Sluice({ log: faulty, metadata: faulty, tiering: { store: faulty, objects }, now: c.now });
        for (let seq = 0; seq < 25; seq++) {
          const size = 1 + Math.floor(random() * 3);
          const records = Array.from({ length: size }, (_, k) => ({ partition: 0, value: `${w}/${seq}/${k}` }));
          const metas = await sluice.append('safe', records);
          metas.forEach((m, k) => acks.set(`${w}/${seq}/${k}`, m));
        }
      };
      const writers = Array.from({ length: 6 }, (_, w) => writer(w));
      let finished = 0;
      writers.forEach((p) => void p.then(() => finished++));
      // The driver: time moves in steps of up to 100 s, the roller and a reader run, stalled puts
      // go on. It ends when every writer finished or died (a dead one never returns).
      for (let round = 0; round < 50_000 && finished + deaths < writers.length; round++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (held.length === 0 && random() < 0.7) continue;
        c.advance(Math.floor(random() * 100 * SECOND));
        await roller.runOnce();
        if (random() < 0.5) await readAll(admin, 'safe', true);
        held.splice(0, Math.ceil(held.length * random())).forEach((go) => go());
      }
      expect(finished + deaths, 'every writer finished or died').toBe(writers.length);
      expect(stalls > 5 && deaths > 0, `stalls (${stalls}) and deaths (${deaths}) were injected`).toBe(true);

      c.advance(2 * GAP_FILL_AFTER_MS);
      await roller.runOnce();
      const read = await readAll(admin, 'safe');
      const state = await store.getPartitionState(logKey((await admin.listTopics())[0]!.topicId, 0));
      expect(state.tieredThrough > 0, 'the roller moved records to S3 while writers wrote').toBe(true);
      expect(
        read.map((r) => r.offset),
        'offsets increase',
      ).toStrictEqual([...read.map((r) => r.offset)].sort((a, b) => a - b));
      const byValue = new Map(read.map((r) => [r.value as string, r.offset]));
      expect(byValue.size, 'no record read twice').toBe(read.length);
      for (const [value, meta] of acks) {
        expect(byValue.get(value), `acknowledged ${value} is read at offset ${meta.offset}`).toBe(meta.offset);
      }
      expect(read.length, 'nothing is read that was not acknowledged').toBe(acks.size);
    });
  });
}
