import type { Emit, Operator } from './operator.ts';

/**
 * What a process function sees for one key: its state (a plain JSON value, kept in the job’s
 * state between batches), the event time and watermark, event-time timers, and `emit`.
 */
export interface ProcessContext<S, O> {
  readonly key: string;
  /** The event’s time in `processElement`, the timer’s time in `onTimer`. */
  readonly timestamp: number;
  /** The job’s watermark; `null` before any partition has one. An event behind it is late. */
  readonly watermark: number | null;
  /** This key’s state, `undefined` until first set. */
  state(): S | undefined;
  setState(value: S): void;
  clearState(): void;
  /** Calls `onTimer` for this key once the watermark reaches `time`. Registering a time twice sets one timer. */
  registerTimer(time: number): void;
  deleteTimer(time: number): void;
  emit(value: O): void;
}

/**
 * A keyed process function (Flink’s `KeyedProcessFunction`). It sees every event, late ones
 * included, and decides itself what to do with them (compare `timestamp` with `watermark`).
 */
export interface ProcessFunction<T, S, O> {
  processElement(value: T, ctx: ProcessContext<S, O>): void;
  onTimer?(time: number, ctx: ProcessContext<S, O>): void;
}

/** A key’s state: the function’s value and its pending timers, ascending. */
interface KeyState {
  value?: unknown;
  timers: number[];
}

/** Runs a process function; timers fire in (time, key) order when the watermark reaches them. */
export function processOperator(fn: ProcessFunction<unknown, unknown, unknown>): Operator {
  // The earliest pending timer per state object (a lower bound: deleted timers may leave it early),
  // so that onWatermark scans every key only when a timer may be due. A cache; state stays JSON.
  const earliest = new WeakMap<object, number>();
  const context = (
    keys: Record<string, unknown>,
    key: string,
    timestamp: number,
    watermark: number | null,
    emit: Emit,
  ): ProcessContext<unknown, unknown> => {
    const state = () => (keys[key] ??= { timers: [] }) as KeyState;
    const tidy = () => {
      const s = keys[key] as KeyState | undefined;
      if (s && s.value === undefined && s.timers.length === 0) delete keys[key];
    };
    return {
      key,
      timestamp,
      watermark,
      state: () => (keys[key] as KeyState | undefined)?.value,
      setState: (value) => {
        if (value === undefined) throw new TypeError('setState(undefined): use clearState() to forget a key’s state');
        state().value = value;
      },
      clearState: () => {
        delete state().value;
        tidy();
      },
      registerTimer: (time) => {
        const timers = state().timers;
        const cached = earliest.get(keys);
        if (cached !== undefined) earliest.set(keys, Math.min(cached, time));
        if (!timers.includes(time)) {
          timers.push(time);
          timers.sort((a, b) => a - b);
        }
      },
      deleteTimer: (time) => {
        const s = state();
        s.timers = s.timers.filter((t) => t !== time);
        tidy();
      },
      emit: (value) => emit(key, value),
    };
  };

  return {
    onEvent(keys, key, timestamp, value, watermark, emit) {
      fn.processElement(value, context(keys, key, timestamp, watermark, emit));
      const s = keys[key] as KeyState | undefined;
      if (s && s.value === undefined && s.timers.length === 0) delete keys[key];
      return true;
    },

    onWatermark(keys, _from, to, emit) {
      const cached = earliest.get(keys);
      if (cached !== undefined && cached > to) return;
      // Timers set by onTimer at or before the watermark fire in the same pass, as in Flink.
      for (;;) {
        let next: { time: number; key: string } | undefined;
        for (const [key, raw] of Object.entries(keys)) {
          const time = (raw as KeyState).timers[0];
          if (time === undefined || time > to) continue;
          if (next === undefined || time < next.time || (time === next.time && key < next.key)) next = { time, key };
        }
        if (next === undefined) break;
        const s = keys[next.key] as KeyState;
        s.timers.shift();
        fn.onTimer?.(next.time, context(keys, next.key, next.time, to, emit));
        const after = keys[next.key] as KeyState | undefined;
        if (after && after.value === undefined && after.timers.length === 0) delete keys[next.key];
      }
      let first = Infinity;
      for (const raw of Object.values(keys)) first = Math.min(first, (raw as KeyState).timers[0] ?? Infinity);
      earliest.set(keys, first);
    },
  };
}
