import { expect, it } from 'vitest';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/** The ResilientConsumer as a subscription (examples/resilient-subscription.ts), against the local stack. */
const api = useApi('e2e-resilient-sub');

it('retries with backoff, dead-letters payment-5 with its headers, and quarantines acct-9 until it is fixed and released', async () => {
  const prefix = uniqueName('rs');
  const result = await runNode('bin/sluice.mjs', [
    '--url',
    api.url,
    'example',
    'resilient-subscription',
    '--prefix',
    prefix,
  ]);
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stdout.trimEnd().split('\n');
  for (const id of [1, 2, 4]) expect(lines).toContain(`Processed payment-${id} on attempt 1`);
  for (const id of [3, 6]) {
    expect(lines).toContain(`payment-${id}: gateway busy (503) on attempt 1`);
    expect(lines).toContain(`Processed payment-${id} on attempt 2`);
  }
  expect(lines.filter((l) => l.startsWith('payment-5: '))).toStrictEqual([
    'payment-5: gateway timeout on attempt 1',
    'payment-5: gateway timeout on attempt 2',
    'payment-5: gateway timeout on attempt 3',
    'payment-5: gateway timeout on attempt 4',
  ]);
  expect(lines).toContain(`Dead letters in ${prefix}.payments.DLQ: 1`);
  const at = lines.indexOf('  payment-5:');
  const headers = Object.fromEntries(
    lines.slice(at + 1, at + 7).map((l) => [l.trim().split(': ')[0], l.trim().split(': ').slice(1).join(': ')]),
  );
  expect(headers).toMatchObject({
    original_topic: `${prefix}.payments`,
    original_partition: '0',
    original_offset: '4',
    error_message: 'the target reported the record failed',
    attempts: '4', // the first attempt and 3 retries
  });
  expect(Date.parse(headers.failed_at)).toBeGreaterThan(0);
  // Transfers: acct-9 parked with its later transfer; the others flow; released in order after the fix.
  expect(lines.some((l) => /^Quarantined acct-9: 2 transfer\(s\) waiting from offset 1/.test(l))).toBe(true);
  expect(lines).toContain('t4 delivered while acct-9 was quarantined: false');
  expect(lines).toContain('Processed t5 on attempt 1');
  const after = lines.slice(lines.indexOf('Fixed acct-9; releasing it'));
  expect(after.filter((l) => l.startsWith('Processed t'))).toStrictEqual([
    'Processed t2 on attempt 4',
    'Processed t4 on attempt 1',
  ]);
});
