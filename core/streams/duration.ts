import { InvalidArgument } from '../errors.ts';

/** A length of time: milliseconds, or a string such as `'250ms'`, `'30s'`, `'5m'`, `'1h'`, `'2d'`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration into whole milliseconds. `min` is 1 by default (window sizes, gaps); lateness
 * and out-of-orderness bounds pass 0.
 *
 * @example
 * durationMs('window.size', '5m') // 300000
 */
export function durationMs(field: string, value: Duration, min = 1): number {
  let ms: number | undefined;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') {
    const match = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
    if (match) ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  if (ms === undefined || !Number.isSafeInteger(ms) || ms < min) {
    throw new InvalidArgument(
      field,
      `${field} must be a whole number of milliseconds of at least ${min}, or a string like ’500ms’, ’30s’, ’5m’, ’1h’ or ’2d’; got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}
