import { InvalidArgument } from '../errors.ts';

/** Checks an integer option (or its fallback when absent) is within `[min, max]`; the error names the option. */
export function integerOption(
  name: string,
  value: unknown,
  fallback: number | undefined,
  min: number,
  max: number,
): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
    throw new InvalidArgument(name, `${name} must be an integer from ${min} to ${max}`);
  }
  return v as number;
}
