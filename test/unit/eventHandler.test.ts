import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppendContention, InvalidArgument } from '../../core/errors.ts';
import { eventHandler } from '../../functions/eventHandler.ts';
import { logger } from '../../functions/powertools.ts';
import { lambdaContext } from '../support/apiEvents.ts';

/** The chain every non-HTTP handler is built with: Powertools middlewares and the error mapping. */
describe('eventHandler', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is a middy chain that returns the handler result and gives it the Lambda context', async () => {
    const handler = eventHandler(async (event: { n: number }, context) => ({
      doubled: event.n * 2,
      id: context.awsRequestId,
    }));
    expect(typeof handler.use, 'a middy handler').toBe('function');
    expect(await handler({ n: 21 }, lambdaContext)).toStrictEqual({ doubled: 42, id: 'test-request' });
  });

  it('has no early timeout: work that outlasts the remaining time is not cut off with a TimeoutError', async () => {
    const handler = eventHandler(async () => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return 'finished';
    });
    const shortContext = { ...lambdaContext, getRemainingTimeInMillis: () => 20 };
    expect(await handler({}, shortContext)).toBe('finished');
  });

  it('sends Sluice errors out by name as Sluice.<code>, keeping the message and retriability', async () => {
    const handler = eventHandler(async () => {
      throw new AppendContention('orders', 3, 200);
    });
    const error = await handler({}, lambdaContext).then(
      () => undefined,
      (e: unknown) => e as Error & { retriable?: boolean },
    );
    expect(error?.name).toBe('Sluice.AppendContention');
    expect(error?.message).toMatch(/orders/);
    expect(error?.retriable).toBe(true);
  });

  it('leaves other errors unchanged, so AWS SDK names still match retries', async () => {
    const sdkError = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const handler = eventHandler(async () => {
      throw sdkError;
    });
    await expect(handler({}, lambdaContext)).rejects.toBe(sdkError);
  });

  it('logs a failure by name and code only: no message, stack or data', async () => {
    const lines: unknown[][] = [];
    vi.spyOn(logger, 'error').mockImplementation((...args: unknown[]) => void lines.push(args));
    const secret = 'card 4111-1111-1111-1111';
    const sluiceFailure = eventHandler(async () => {
      throw new InvalidArgument('value', `bad value ${secret}`);
    });
    const otherFailure = eventHandler(async () => {
      throw new TypeError(`cannot read ${secret}`);
    });
    await expect(sluiceFailure({}, lambdaContext)).rejects.toThrow();
    await expect(otherFailure({}, lambdaContext)).rejects.toThrow();
    expect(lines).toStrictEqual([
      ['Handler failed', { error: { code: 'InvalidArgument', retriable: false } }],
      ['Handler failed', { error: { name: 'TypeError' } }],
    ]);
    expect(JSON.stringify(lines)).not.toContain(secret);
  });
});
