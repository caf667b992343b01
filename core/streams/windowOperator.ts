import type { Aggregator } from './aggregators.ts';
import type { Operator } from './operator.ts';
import { gcd, slotStart, type FixedWindows, type SessionWindows, type TimeWindow } from './windows.ts';

/** One result of a window: what `aggregate` and `reduce` emit. */
export interface WindowResult<R> {
  key: string;
  window: TimeWindow;
  result: R;
}

/** A key’s state for fixed windows: accumulators by pane start (as a decimal string). */
interface PaneState {
  panes: Record<string, unknown>;
}

/** A key’s state for session windows: its live sessions, ordered by start, never overlapping. */
interface SessionState {
  sessions: { start: number; end: number; acc: unknown }[];
}

type AnyAggregator = Aggregator<unknown, unknown, unknown>;

/**
 * Tumbling and sliding windows kept as panes. A window `[s, s + size)` fires once when the
 * watermark reaches `s + size`; until the watermark reaches `s + size + allowedLateness` an event
 * that falls in it emits the window’s updated result at once. An event whose windows have all
 * passed that point is late. A pane is dropped once the last window holding it has.
 */
export function fixedWindowOperator(spec: FixedWindows, aggregator: AnyAggregator, latenessMs: number): Operator {
  const { sizeMs: size, slideMs: slide } = spec;
  const pane = gcd(size, slide);
  const lastEnd = (t: number) => slotStart(t, slide) + size;
  const resultOf = (state: PaneState, key: string, start: number): WindowResult<unknown> => {
    let acc = aggregator.create();
    for (let p = start; p < start + size; p += pane) {
      const part = state.panes[String(p)];
      if (part !== undefined) acc = aggregator.merge(acc, part);
    }
    return { key, window: { start, end: start + size }, result: aggregator.result(acc) };
  };

  return {
    onEvent(keys, key, t, value, wm, emit) {
      if (wm !== null && lastEnd(t) + latenessMs <= wm) return false;
      const state = (keys[key] ??= { panes: {} }) as PaneState;
      const p = String(slotStart(t, pane));
      state.panes[p] = aggregator.add(state.panes[p] ?? aggregator.create(), value);
      if (wm === null) return true;
      // Windows holding t that fired already but are still within their lateness: emit them again.
      const updated: number[] = [];
      for (let s = slotStart(t, slide); s + size > t; s -= slide) {
        if (s + size <= wm && s + size + latenessMs > wm) updated.push(s);
      }
      for (const s of updated.sort((a, b) => a - b)) emit(key, resultOf(state, key, s));
      return true;
    },

    onWatermark(keys, from, to, emit) {
      // Window ends are k·slide + size, and panes expire at an end + allowedLateness: skip the scan
      // when neither kind of point lies in (from, to].
      const firstAfter = (offset: number) => slotStart((from as number) - offset, slide) + slide + offset;
      if (from !== null && firstAfter(size) > to && firstAfter(size + latenessMs) > to) return;
      const due: { end: number; start: number; key: string }[] = [];
      for (const [key, raw] of Object.entries(keys)) {
        const state = raw as PaneState;
        const starts = new Set<number>();
        for (const p of Object.keys(state.panes).map(Number)) {
          for (let s = slotStart(p, slide); s + size > p; s -= slide) {
            if (s + size <= to && (from === null || s + size > from)) starts.add(s);
          }
        }
        for (const start of starts) due.push({ end: start + size, start, key });
      }
      due.sort((a, b) => a.end - b.end || a.start - b.start || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      for (const d of due) emit(d.key, resultOf(keys[d.key] as PaneState, d.key, d.start));
      for (const [key, raw] of Object.entries(keys)) {
        const state = raw as PaneState;
        for (const p of Object.keys(state.panes)) {
          if (lastEnd(Number(p)) + latenessMs <= to) delete state.panes[p];
        }
        if (Object.keys(state.panes).length === 0) delete keys[key];
      }
    },
  };
}

/**
 * Session windows kept as extents that merge. An event is late when it lies more than
 * `allowedLateness` behind the watermark: such an event could belong to a session already dropped,
 * so judging it by its own time keeps every session whole. An accepted event that lands in (or
 * joins, or bridges) a session whose end the watermark has passed emits that session’s result at
 * once; other sessions fire when the watermark reaches their end, and are dropped at
 * `end + allowedLateness`.
 */
export function sessionWindowOperator(spec: SessionWindows, aggregator: AnyAggregator, latenessMs: number): Operator {
  const gap = spec.gapMs;
  const resultOf = (key: string, s: { start: number; end: number; acc: unknown }): WindowResult<unknown> => ({
    key,
    window: { start: s.start, end: s.end },
    result: aggregator.result(s.acc),
  });

  // The next time, per state object, at which some session fires or expires: lets onWatermark skip
  // its scan of every key while the watermark moves between such times. A cache only (the state
  // stays plain JSON): a fresh state object is scanned once, then tracked.
  const nextPoint = new WeakMap<object, number>();
  const pointOf = (s: { end: number }, wm: number | null) => (wm === null || s.end > wm ? s.end : s.end + latenessMs);

  return {
    onEvent(keys, key, t, value, wm, emit) {
      if (wm !== null && t + latenessMs < wm) return false;
      const state = (keys[key] ??= { sessions: [] }) as SessionState;
      let merged = { start: t, end: t + gap, acc: aggregator.add(aggregator.create(), value) };
      const kept: SessionState['sessions'] = [];
      const joined: SessionState['sessions'] = [];
      for (const s of state.sessions) (s.start < merged.end && merged.start < s.end ? joined : kept).push(s);
      if (joined.length > 0) {
        const parts = [...joined, merged].sort((a, b) => a.start - b.start);
        let acc = aggregator.create();
        for (const part of parts) acc = aggregator.merge(acc, part.acc);
        merged = {
          start: Math.min(...parts.map((s) => s.start)),
          end: Math.max(...parts.map((s) => s.end)),
          acc,
        };
      }
      kept.push(merged);
      state.sessions = kept.sort((a, b) => a.start - b.start);
      if (wm !== null && merged.end <= wm) emit(key, resultOf(key, merged));
      const cached = nextPoint.get(keys);
      if (cached !== undefined) nextPoint.set(keys, Math.min(cached, pointOf(merged, wm)));
      return true;
    },

    onWatermark(keys, from, to, emit) {
      const cached = nextPoint.get(keys);
      if (cached !== undefined && cached > to) return;
      const due: { key: string; s: SessionState['sessions'][number] }[] = [];
      for (const [key, raw] of Object.entries(keys)) {
        for (const s of (raw as SessionState).sessions) {
          if (s.end <= to && (from === null || s.end > from)) due.push({ key, s });
        }
      }
      due.sort((a, b) => a.s.end - b.s.end || a.s.start - b.s.start || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      for (const d of due) emit(d.key, resultOf(d.key, d.s));
      for (const [key, raw] of Object.entries(keys)) {
        const state = raw as SessionState;
        state.sessions = state.sessions.filter((s) => s.end + latenessMs > to);
        if (state.sessions.length === 0) delete keys[key];
      }
      let next = Infinity;
      for (const raw of Object.values(keys))
        for (const s of (raw as SessionState).sessions) next = Math.min(next, pointOf(s, to));
      nextPoint.set(keys, next);
    },
  };
}
