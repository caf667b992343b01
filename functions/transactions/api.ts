import type { TransactionOffsets, TransactionRecord } from '../../core/transactions/transactions.ts';
import { transactions } from '../runtime.ts';
import { httpHandler, type HttpEvent } from '../http/httpHandler.ts';
import { InvalidRequest } from '../http/httpErrors.ts';
import { objectBody, onlyKeys, recordFromWire } from '../http/wire.ts';
import { access, authorize } from '../security/authorization.ts';

const id = (event: HttpEvent): string => event.pathParameters!.transactionalId!;
const onId = (operation: 'write' | 'describe', transactionalId: unknown) =>
  access(operation, 'transactionalId', typeof transactionalId === 'string' ? transactionalId : '');

/** Records from the wire, each naming its topic; the rights to write to every topic named. */
function records(body: Record<string, unknown>, mayBeEmpty: boolean): TransactionRecord[] {
  if (body.records === undefined && mayBeEmpty) return [];
  if (!Array.isArray(body.records)) throw new InvalidRequest('records', 'records must be an array of records');
  return body.records.map((r, i) => recordFromWire(r, i) as unknown as TransactionRecord);
}

const writeTopics = (list: readonly TransactionRecord[]) =>
  [...new Set(list.map((r) => r.topic).filter((t) => typeof t === 'string'))].map((t) => access('write', 'topic', t));

/** Committing a group's offsets needs the right to read as that group (as a plain commit does). */
const readGroup = (offsets: unknown) =>
  typeof offsets === 'object' && offsets !== null && typeof (offsets as { groupId?: unknown }).groupId === 'string'
    ? [access('read', 'group', (offsets as { groupId: string }).groupId)]
    : [];

/**
 * Transactions (Kafka's transactional producer): one-request atomic transactions, and
 * multi-request ones (init, begin, records, commit, abort) read by `read_committed` consumers.
 */
export const handler = httpHandler({
  'POST /v1/transactions': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['transactionalId', 'epoch', 'sequence', 'records', 'offsets']);
    const list = records(body, body.offsets !== undefined);
    await authorize(event, onId('write', body.transactionalId), ...writeTopics(list), ...readGroup(body.offsets));
    const result = await transactions.transact({
      transactionalId: body.transactionalId as string,
      epoch: body.epoch as number,
      ...(body.sequence === undefined ? {} : { sequence: body.sequence as number }),
      records: list,
      ...(body.offsets === undefined ? {} : { offsets: body.offsets as TransactionOffsets }),
    });
    return { status: 200, body: result };
  },
  'POST /v1/transactions/{transactionalId}/init': async (event) => {
    if (event.json !== undefined) onlyKeys(objectBody(event.json), []);
    await authorize(event, onId('write', id(event)));
    return { status: 200, body: await transactions.init(id(event)) };
  },
  'GET /v1/transactions/{transactionalId}': async (event) => {
    await authorize(event, onId('describe', id(event)));
    return { status: 200, body: await transactions.describe(id(event)) };
  },
  'POST /v1/transactions/{transactionalId}/begin': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['epoch', 'timeoutMs']);
    await authorize(event, onId('write', id(event)));
    const begun = await transactions.begin({
      transactionalId: id(event),
      epoch: body.epoch as number,
      ...(body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs as number }),
    });
    return { status: 200, body: begun };
  },
  'POST /v1/transactions/{transactionalId}/records': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['epoch', 'sequence', 'append', 'records']);
    const list = records(body, false);
    await authorize(event, onId('write', id(event)), ...writeTopics(list));
    const appended = await transactions.append({
      transactionalId: id(event),
      epoch: body.epoch as number,
      sequence: body.sequence as number,
      append: body.append as number,
      records: list,
    });
    return { status: 200, body: appended };
  },
  'POST /v1/transactions/{transactionalId}/commit': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['epoch', 'sequence', 'offsets']);
    await authorize(event, onId('write', id(event)), ...readGroup(body.offsets));
    const ended = await transactions.commit({
      transactionalId: id(event),
      epoch: body.epoch as number,
      sequence: body.sequence as number,
      ...(body.offsets === undefined ? {} : { offsets: body.offsets as TransactionOffsets }),
    });
    return { status: 200, body: ended };
  },
  'POST /v1/transactions/{transactionalId}/abort': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['epoch', 'sequence']);
    await authorize(event, onId('write', id(event)));
    const ended = await transactions.abort({
      transactionalId: id(event),
      epoch: body.epoch as number,
      sequence: body.sequence as number,
    });
    return { status: 200, body: ended };
  },
});
