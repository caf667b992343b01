import { isSluiceError } from '../../core/errors.ts';

/** A clock a test moves by hand: `now` for the code under test, `advance` for the test. */
export function clock(start = 1_800_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** What a call ends with: 'ok', a Sluice error's code, or any other error as text. */
export const code = (f: () => Promise<unknown>): Promise<string> =>
  f().then(
    () => 'ok',
    (e: unknown) => (isSluiceError(e) ? e.code : String(e)),
  );
