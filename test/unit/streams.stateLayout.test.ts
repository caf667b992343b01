import { describe, expect, test } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import type { JobState } from '../../core/streams/job.ts';
import {
  CHUNK_TARGET_BYTES,
  assemble,
  planSave,
  type JobLayout,
  type StoredChunk,
} from '../../core/streams/stateLayout.ts';
import { prng } from '../support/prng.ts';

/** What a store would hold after applying a plan: the head and every chunk. */
function apply(plan: ReturnType<typeof planSave>, held: Map<string, StoredChunk>, version: number) {
  for (const p of plan.puts) held.set(p.id, { json: p.json, version });
  for (const id of plan.deletes) held.delete(id);
  return { headJson: plan.headJson, version };
}

function randomState(seed: number, keys: number): JobState {
  const random = prng(seed);
  const state: JobState = { version: 1, watermark: 1000, partitions: { '0': { nextOffset: 7 } } as never, keys: {} };
  for (let i = 0; i < keys; i++) {
    const kind = random();
    const key = `key-${i}-${'x'.repeat(Math.floor(random() * 40))}`;
    if (kind < 0.6) {
      const panes: Record<string, unknown> = {};
      for (let p = 0; p < 1 + Math.floor(random() * 4); p++)
        panes[String(1000 + 60 * Math.floor(random() * 6))] = { n: i };
      state.keys[key] = { panes };
    } else if (kind < 0.8) state.keys[key] = { sessions: [{ start: i, end: i + 30, acc: i }] };
    else state.keys[key] = { value: { total: i }, timers: [i + 5] };
  }
  return state;
}

describe('stream job state layout (head and chunks)', () => {
  test('any state round-trips through its chunks, whatever its size', () => {
    for (const [seed, keys] of [
      [1, 0],
      [2, 10],
      [3, 3000],
    ] as const) {
      const state = randomState(seed, keys);
      const held = new Map<string, StoredChunk>();
      const plan = planSave('job', state, undefined, 1);
      const { headJson } = apply(plan, held, 1);
      const back = assemble(headJson, 1, held);
      expect(back).not.toBe('torn');
      expect((back as { state: JobState }).state).toStrictEqual(state);
      for (const c of held.values()) expect(c.json.length).toBeLessThanOrEqual(CHUNK_TARGET_BYTES);
    }
  });

  test('a save writes only the chunks whose bytes changed, and deletes the ones that emptied', () => {
    const state = randomState(4, 3000);
    const held = new Map<string, StoredChunk>();
    const first = planSave('job', state, undefined, 1);
    apply(first, held, 1);
    expect(first.puts.length).toBeGreaterThan(3);
    // One key’s pane changes; every key’s pane 1000 goes away.
    const next = structuredClone(state);
    const key = Object.keys(next.keys).find((k) => 'panes' in (next.keys[k] as object))!;
    (next.keys[key] as { panes: Record<string, unknown> }).panes['1060'] = { n: -1 };
    for (const value of Object.values(next.keys)) {
      const panes = (value as { panes?: Record<string, unknown> }).panes;
      if (panes !== undefined) delete panes['1000'];
    }
    for (const k of Object.keys(next.keys)) {
      const panes = (next.keys[k] as { panes?: Record<string, unknown> }).panes;
      if (panes !== undefined && Object.keys(panes).length === 0) delete next.keys[k];
    }
    const second = planSave('job', next, first.layout, 2);
    const changedGroups = new Set(second.puts.map((p) => p.id.split('/')[0]));
    expect([...changedGroups]).toStrictEqual(['p1060']);
    expect(second.deletes.length).toBeGreaterThan(0);
    expect(second.deletes.every((id) => id.startsWith('p1000/'))).toBe(true);
    const { headJson } = apply(second, held, 2);
    expect((assemble(headJson, 2, held) as { state: JobState }).state).toStrictEqual(next);
  });

  test('a read that meets a later commit’s chunks (rewritten, deleted or added) is torn, never mixed', () => {
    const state = randomState(5, 2000);
    const held = new Map<string, StoredChunk>();
    const first = planSave('job', state, undefined, 1);
    const { headJson } = apply(first, held, 1);
    const ids = [...held.keys()];
    const rewritten = new Map(held).set(ids[0]!, { json: '{}', version: 2 });
    const deleted = new Map(held);
    deleted.delete(ids[1]!);
    const added = new Map(held).set('p99/0', { json: '{}', version: 2 });
    for (const found of [rewritten, deleted, added]) expect(assemble(headJson, 1, found)).toBe('torn');
    expect(assemble(headJson, 1, held)).not.toBe('torn');
  });

  test('a state stored whole in its head (before chunks) loads, and its next save moves it to chunks', () => {
    const state = randomState(6, 20);
    const old = assemble(JSON.stringify(state), 3, new Map());
    expect((old as { state: JobState }).state).toStrictEqual(state);
    const plan = planSave('job', state, (old as { layout: JobLayout }).layout, 4);
    expect(plan.puts.length).toBeGreaterThan(0);
    expect(JSON.parse(plan.headJson)).not.toHaveProperty('keys');
  });

  test('one key whose state passes an item is refused with JobStateTooLarge', () => {
    const state: JobState = {
      version: 1,
      watermark: null,
      partitions: {},
      keys: { k: { value: 'x'.repeat(400 * 1024), timers: [] } },
    };
    let error: unknown;
    try {
      planSave('job', state, undefined, 1);
    } catch (e) {
      error = e;
    }
    expect(isSluiceError(error, 'JobStateTooLarge')).toBe(true);
  });
});
