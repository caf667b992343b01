/**
 * How a window turns events into a result. Accumulators live in the job’s serialized state, so
 * they must be plain JSON values (numbers, strings, arrays, objects; no Map, Date or undefined).
 *
 * `merge` combines the accumulators of two panes (slices of a sliding window) or two session
 * extents; it must be associative, and the operator merges in time order. Within one pane events
 * are added in arrival order, so an aggregator whose result depends on order should also be
 * commutative to give the same result however the input was batched.
 */
export interface Aggregator<T, A, R> {
  create(): A;
  add(acc: A, value: T): A;
  merge(a: A, b: A): A;
  result(acc: A): R;
}

/** Counts events. */
export function count<T = unknown>(): Aggregator<T, number, number> {
  return { create: () => 0, add: (acc) => acc + 1, merge: (a, b) => a + b, result: (acc) => acc };
}

/**
 * Sums a number taken from each event.
 *
 * @example
 * sum((t: Transaction) => t.amount)
 */
export function sum<T>(field: (value: T) => number): Aggregator<T, number, number> {
  return { create: () => 0, add: (acc, v) => acc + field(v), merge: (a, b) => a + b, result: (acc) => acc };
}

/** The smallest, or largest, number taken from each event; `null` for a window without events. */
export function min<T>(field: (value: T) => number): Aggregator<T, number | null, number | null> {
  const pick = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
  return { create: () => null, add: (acc, v) => pick(acc, field(v)), merge: pick, result: (acc) => acc };
}

export function max<T>(field: (value: T) => number): Aggregator<T, number | null, number | null> {
  const pick = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));
  return { create: () => null, add: (acc, v) => pick(acc, field(v)), merge: pick, result: (acc) => acc };
}

/**
 * Folds events with a binary function (`reduce` on a windowed stream). `fn` must be associative,
 * since panes are reduced separately and then combined.
 */
export function reducing<T>(fn: (a: T, b: T) => T): Aggregator<T, T | null, T> {
  const both = (a: T | null, b: T | null) => (a === null ? b : b === null ? a : fn(a, b));
  return {
    create: () => null,
    add: (acc, v) => (acc === null ? v : fn(acc, v)),
    merge: both,
    // A window only exists once an event has been added to it, so the accumulator is never null here.
    result: (acc) => acc as T,
  };
}

type Accumulators<S> = { [K in keyof S]: S[K] extends Aggregator<unknown, infer A, unknown> ? A : never };
type Results<S> = { [K in keyof S]: S[K] extends Aggregator<unknown, unknown, infer R> ? R : never };

/**
 * Computes several aggregates in one pass; the result has one field per aggregator.
 *
 * @example
 * combine({ count: count<Transaction>(), total: sum((t: Transaction) => t.amount) })
 * // result: { count: 12, total: 5230 }
 */
export function combine<T, S extends Record<string, Aggregator<T, unknown, unknown>>>(
  aggregators: S,
): Aggregator<T, Accumulators<S>, Results<S>> {
  const names = Object.keys(aggregators);
  const each = (fn: (name: string, agg: Aggregator<T, unknown, unknown>) => unknown) => {
    const out: Record<string, unknown> = {};
    for (const name of names) out[name] = fn(name, aggregators[name] as Aggregator<T, unknown, unknown>);
    return out;
  };
  type A = Record<string, unknown>;
  return {
    create: () => each((_, agg) => agg.create()) as Accumulators<S>,
    add: (acc, v) => each((name, agg) => agg.add((acc as A)[name], v)) as Accumulators<S>,
    merge: (a, b) => each((name, agg) => agg.merge((a as A)[name], (b as A)[name])) as Accumulators<S>,
    result: (acc) => each((name, agg) => agg.result((acc as A)[name])) as Results<S>,
  };
}
