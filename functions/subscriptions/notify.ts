import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { WEBSOCKET_CALLBACK_ENV, type Doorbell, type TouchedPartition } from '../../core/subscriptions/watchers.ts';
import { requiredEnv } from '../env.ts';
import { errorSummary, logger, metrics, tracer } from '../powertools.ts';
import { watchers } from './watchers.ts';

/** The WebSocket API's management endpoint (set when the stack or local stack serves watchers). */
let management: ApiGatewayManagementApiClient | undefined;
function client(): ApiGatewayManagementApiClient {
  management ??= tracer.captureAWSv3Client(
    new ApiGatewayManagementApiClient({ endpoint: requiredEnv(WEBSOCKET_CALLBACK_ENV) }),
  );
  return management;
}

/** Posts a frame with PostToConnection; a GoneException (410) means the client left without a `$disconnect`. */
const doorbell: Doorbell = {
  async ring(connectionId, frame) {
    try {
      await client().send(
        new PostToConnectionCommand({
          ConnectionId: connectionId,
          Data: new TextEncoder().encode(JSON.stringify(frame)),
        }),
      );
      return 'sent';
    } catch (e) {
      if (e instanceof GoneException || (e as { name?: string }).name === 'GoneException') return 'gone';
      // Another failure loses one doorbell, not records: clients poll once a while anyway.
      logger.warn('Doorbell not delivered', { error: errorSummary(e) });
      return 'sent';
    }
  },
};

/**
 * Rings the WebSocket watchers of the partitions records were appended to (topic ids and
 * partitions from the log table's stream keys, `logKey`), and removes connections that are gone.
 * Called by the stream dispatcher.
 */
export async function notifyWatchers(touched: readonly TouchedPartition[]): Promise<void> {
  // No WebSocket API here (a local stack without watchers): nobody can be watching.
  if (process.env[WEBSOCKET_CALLBACK_ENV] === undefined) return;
  const report = touched.length === 0 ? { rung: 0, removed: 0 } : await watchers.notify(touched, doorbell);
  metrics.addMetric('WatcherDoorbells', 'Count', report.rung); // 0 too: a steady series
  if (report.removed > 0) logger.info('Removed gone WebSocket connections', { removed: report.removed });
}
