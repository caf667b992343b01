import { InvalidArgument } from '../errors.ts';
import { durationMs, type Duration } from './duration.ts';

/** Which clock places events in windows: the events’ own timestamps, or the runner’s clock. */
export type TimeDomain = 'event' | 'processing';

/** Fixed windows `[start, start + size)`, aligned to the epoch; `slide === size` for tumbling ones. */
export interface FixedWindows {
  readonly kind: 'tumbling' | 'sliding';
  readonly sizeMs: number;
  readonly slideMs: number;
  readonly time: TimeDomain;
}

/** Session windows: events less than `gap` apart belong to one session `[first, last + gap)`. */
export interface SessionWindows {
  readonly kind: 'session';
  readonly gapMs: number;
  readonly time: TimeDomain;
}

export type WindowAssigner = FixedWindows | SessionWindows;

/** A window’s bounds: `start` inclusive, `end` exclusive, in milliseconds since the epoch. */
export interface TimeWindow {
  start: number;
  end: number;
}

/**
 * Back-to-back windows of one size.
 *
 * @example
 * tumbling({ size: '1h' })                          // event time
 * tumbling({ size: '1m', time: 'processing' })     // the runner’s clock
 */
export function tumbling(options: { size: Duration; time?: TimeDomain }): FixedWindows {
  const sizeMs = durationMs('tumbling size', options.size);
  return { kind: 'tumbling', sizeMs, slideMs: sizeMs, time: timeDomain(options.time) };
}

/**
 * Overlapping windows of `size`, one starting every `slide`. State is kept in panes of
 * gcd(size, slide), so an event updates one pane rather than every window it falls in.
 *
 * @example
 * sliding({ size: '5m', slide: '1m' })
 */
export function sliding(options: { size: Duration; slide: Duration; time?: TimeDomain }): FixedWindows {
  const sizeMs = durationMs('sliding size', options.size);
  const slideMs = durationMs('sliding slide', options.slide);
  if (slideMs > sizeMs) {
    throw new InvalidArgument(
      'slide',
      `sliding slide (${slideMs} ms) must not exceed size (${sizeMs} ms): events between windows would be lost`,
    );
  }
  return { kind: 'sliding', sizeMs, slideMs, time: timeDomain(options.time) };
}

/**
 * Windows of activity separated by at least `gap` without events.
 *
 * @example
 * session({ gap: '30m' })
 */
export function session(options: { gap: Duration; time?: TimeDomain }): SessionWindows {
  return { kind: 'session', gapMs: durationMs('session gap', options.gap), time: timeDomain(options.time) };
}

function timeDomain(time: unknown): TimeDomain {
  if (time === undefined || time === 'event' || time === 'processing') return time ?? 'event';
  throw new InvalidArgument('time', `window time must be ’event’ or ’processing’; got ${JSON.stringify(time)}`);
}

/** Greatest common divisor: the pane length of a sliding window. */
export function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The start of the aligned slot of `length` that holds `t` (works for negative times too). */
export function slotStart(t: number, length: number): number {
  return Math.floor(t / length) * length;
}
