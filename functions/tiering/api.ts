import { tiering } from '../runtime.ts';
import { deadlineOf, httpHandler } from '../http/httpHandler.ts';
import { authorize, onCluster } from '../security/authorization.ts';

/**
 * `POST /v1/admin/tiering/run`: roll segments, apply retention and purge deleted topics now. It
 * stops in time to answer (every step is resumable): `complete: false` and `remaining` say how
 * many partitions are left for the next run.
 */
export const handler = httpHandler({
  'POST /v1/admin/tiering/run': async (event, context) => {
    await authorize(event, onCluster('alter'));
    const { reports: partitions, complete, remaining } = await tiering.runUntil(deadlineOf(context));
    return {
      status: 200,
      body: {
        partitions,
        rolled: partitions.reduce((n, p) => n + p.rolled, 0),
        expired: partitions.reduce((n, p) => n + p.expired, 0),
        complete,
        remaining,
      },
    };
  },
});
