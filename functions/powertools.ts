import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * Powertools for every Sluice function, including those that have no Sluice tables (a saga's
 * step functions): structured logs, CloudWatch metrics in embedded metric format, and X-Ray.
 */
export const logger = new Logger({ serviceName: 'sluice' });
export const metrics = new Metrics({ namespace: 'Sluice', serviceName: 'sluice' });
export const tracer = new Tracer({ serviceName: 'sluice' });

/** Marks a handler built by `httpHandler` or `eventHandler`, so a test can tell every deployed one is. */
export const SLUICE_CHAIN = Symbol.for('sluice.handlerChain');

/**
 * What a log line may say about a failure: a Sluice error's code and retriability, or another
 * error's name. Never its message or stack, which may carry an AWS message or record data.
 */
export function errorSummary(e: unknown): Record<string, unknown> {
  // The local stack (never a deployed function) asks for the whole error, to show a developer why.
  if (process.env.SLUICE_LOG_ERROR_DETAILS === 'true' && e instanceof Error) {
    return { name: e.name, message: e.message, stack: e.stack };
  }
  if (typeof e === 'object' && e !== null && 'code' in e && 'retriable' in e && e instanceof Error) {
    return { code: (e as { code: unknown }).code, retriable: (e as { retriable: unknown }).retriable };
  }
  return { name: e instanceof Error ? e.name : typeof e };
}
