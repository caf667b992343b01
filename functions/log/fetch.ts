import { InvalidArgument } from '../../core/errors.ts';
import { isolationOption, type OffsetSpec, type ReadResult } from '../../core/log/sluice.ts';
import { sluice } from '../runtime.ts';
import { httpHandler } from '../http/httpHandler.ts';
import { checkFits, integerParam, recordToWire, wireBytes } from '../http/wire.ts';
import type { ConsumerRecord } from '../../core/log/records.ts';
import { access, authorize } from '../security/authorization.ts';

/** Longest long-poll: API Gateway HTTP APIs time out at 30 s. */
export const MAX_WAIT_MS = 20_000;
/** First pause between polls of the tail while long-polling; doubles up to 1 s. */
const FIRST_POLL_PAUSE_MS = 50;

/** Fetch: read records from a partition (optionally long-polling), and look up offsets. */
export const handler = httpHandler({
  'GET /v1/topics/{topic}/partitions/{partition}/records': async (event) => {
    const topic = event.pathParameters!.topic!;
    await authorize(event, access('read', 'topic', topic));
    const partition = integerParam('partition', event.pathParameters!.partition);
    const q = event.queryStringParameters ?? {};
    const offset = integerParam('offset', q.offset, 0);
    const waitMs = integerParam('waitMs', q.waitMs, 0);
    if (waitMs < 0 || waitMs > MAX_WAIT_MS)
      throw new InvalidArgument('waitMs', `waitMs must be from 0 to ${MAX_WAIT_MS}`);
    // maxBytes counts records as this response carries them (JSON, base64), so it bounds the response.
    const options = {
      maxRecords: integerParam('maxRecords', q.maxRecords, 500),
      maxBytes: integerParam('maxBytes', q.maxBytes, 1024 * 1024),
      measure: (r: ConsumerRecord) => wireBytes(r),
      isolation: isolationOption(q.isolation),
    };

    let result: ReadResult = await sluice.read(topic, partition, offset, options);
    // Long-poll: wait for the high watermark to pass the offset, checking the tail (one small query).
    const deadline = Date.now() + waitMs;
    for (
      let pause = FIRST_POLL_PAUSE_MS;
      result.records.length === 0 && Date.now() < deadline;
      pause = Math.min(pause * 2, 1000)
    ) {
      await new Promise((r) => setTimeout(r, Math.min(pause, deadline - Date.now())));
      if ((await sluice.offsetFor(topic, partition, 'latest')) > (result.lastStableOffset ?? offset))
        result = await sluice.read(topic, partition, offset, options);
    }
    checkFits(topic, partition, result.records, (r) => wireBytes(r));
    return { status: 200, body: { ...result, records: result.records.map(recordToWire) } };
  },
  'GET /v1/topics/{topic}/partitions/{partition}/offsets': async (event) => {
    await authorize(event, access('read', 'topic', event.pathParameters!.topic!));
    const partition = integerParam('partition', event.pathParameters!.partition);
    const at = event.queryStringParameters?.at ?? 'latest';
    const spec: OffsetSpec = at === 'earliest' || at === 'latest' ? at : { timestamp: integerParam('at', at) };
    return { status: 200, body: { offset: await sluice.offsetFor(event.pathParameters!.topic!, partition, spec) } };
  },
});
