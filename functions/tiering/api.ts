import { tiering } from '../runtime.ts';
import { httpHandler } from '../http/httpHandler.ts';

/** `POST /v1/admin/tiering/run`: roll segments and apply retention now, on every partition. */
export const handler = httpHandler({
  'POST /v1/admin/tiering/run': async () => {
    const partitions = await tiering.runOnce();
    return {
      status: 200,
      body: {
        partitions,
        rolled: partitions.reduce((n, p) => n + p.rolled, 0),
        expired: partitions.reduce((n, p) => n + p.expired, 0),
      },
    };
  },
});
