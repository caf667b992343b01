import { InvalidArgument } from '../../core/errors.ts';
import type { IdempotentProducer } from '../../core/log/sluice.ts';
import { metrics, queues, sluice } from '../runtime.ts';
import { deadlineOf, httpHandler } from '../http/httpHandler.ts';
import { InvalidRequest } from '../http/httpErrors.ts';
import { objectBody, onlyKeys, recordFromWire } from '../http/wire.ts';
import { access, authorize } from '../security/authorization.ts';

/** Produce: append records to a topic; offsets come back in request order. */
export const handler = httpHandler({
  'POST /v1/topics/{topic}/records': async (event, context) => {
    await authorize(event, access('write', 'topic', event.pathParameters!.topic!));
    const body = objectBody(event.json);
    onlyKeys(body, ['records', 'producer']);
    if (!Array.isArray(body.records)) throw new InvalidRequest('records', 'records must be an array of records');
    const records = body.records.map((r, i) => recordFromWire(r, i));
    if (body.producer !== undefined && (typeof body.producer !== 'object' || body.producer === null)) {
      throw new InvalidArgument('producer', 'producer must be { id, epoch, sequence }');
    }
    const producer = body.producer as IdempotentProducer | undefined;
    // A queue at its length that overflows with reject-publish refuses the whole request (QueueFull).
    await queues.admit(event.pathParameters!.topic!, records.length);
    // An append that cannot finish in time stops between batches and says what it wrote (AppendIncomplete).
    const metas = await sluice.append(event.pathParameters!.topic!, records, {
      deadline: deadlineOf(context),
      ...(producer === undefined ? {} : { producer }),
    });
    metrics.addMetric('RecordsAppended', 'Count', metas.length);
    return { status: 200, body: { offsets: metas } };
  },
});
