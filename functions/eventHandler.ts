import middy, { type MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';
import { isSluiceError } from '../core/errors.ts';
import { SLUICE_CHAIN, errorSummary, logger, metrics, tracer } from './powertools.ts';

/** An error as Lambda's callers (Step Functions' Retry and Catch, event source mappings) see it: by name. */
class HandlerError extends Error {
  readonly retriable: boolean;

  constructor(name: string, message: string, retriable: boolean) {
    super(message);
    this.name = name;
    this.retriable = retriable;
  }
}

/**
 * The project's error mapping for handlers that are not behind the HTTP API: a Sluice error leaves
 * the function as an error named `Sluice.<code>` (what a state machine's Retry and Catch match
 * on, e.g. `Sluice.DuplicateRun`) with its own message, which never carries record data. Other
 * errors leave unchanged (the AWS SDK's names are what retries key on). The log line names the
 * error and its code only (`errorSummary`): no message or stack, which may carry an AWS message
 * or data. Traces do not record errors either (POWERTOOLS_TRACER_CAPTURE_ERROR is false).
 */
export function sluiceErrors(): MiddlewareObj {
  return {
    onError: (request) => {
      const e = request.error;
      logger.error('Handler failed', { error: errorSummary(e) });
      if (isSluiceError(e)) request.error = new HandlerError(`Sluice.${e.code}`, e.message, e.retriable);
    },
  };
}

/**
 * Builds a Lambda handler that is not behind the HTTP API (schedules, streams, Step Functions
 * tasks) as `httpHandler` does for HTTP: one middy chain with Powertools' logger context, metrics
 * and tracer (response capture off: responses may carry record data), and the error mapping above.
 *
 * @example
 * export const handler = eventHandler(async (event: ScheduledEvent) => tiering.runOnce());
 */
export function eventHandler<E, R>(handler: (event: E, context: Context) => Promise<R>) {
  // No early timeout: middy's would reject with a TimeoutError while the work runs on, which Step
  // Functions would take for a failure the work did not have. Lambda's own timeout ends both.
  const chain = middy(handler, { timeoutEarlyInMillis: 0 })
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .use(sluiceErrors());
  return Object.assign(chain, { [SLUICE_CHAIN]: 'event' as const });
}
