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
