import { randomBytes } from 'node:crypto';

/** A name unique to this test run, so test files can share one DynamoDB Local. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}
