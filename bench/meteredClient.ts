import { DynamoDBClient, type AttributeValue, type TransactWriteItemsCommandInput } from '@aws-sdk/client-dynamodb';

export interface Metered {
  requests: number;
  read: number;
  write: number;
  /** Conditional writes that failed their condition (a put, update or transaction). */
  failedConditions: number;
  /**
   * The write units those failures cost: DynamoDB bills a failed condition like the write (twice
   * for a transaction) but reports no capacity with the error, so they are sized from the request.
   */
  failedConditionUnits: number;
}

/** A DynamoDB client that counts requests and sums the capacity DynamoDB reports for them. */
export function meteredClient(): {
  client: DynamoDBClient;
  reset: () => void;
  read: () => Metered;
} {
  const client = new DynamoDBClient({ maxAttempts: 5 });
  const zero = (): Metered => ({ requests: 0, read: 0, write: 0, failedConditions: 0, failedConditionUnits: 0 });
  let m = zero();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      m.requests++;
      const reads = [
        'GetItemCommand',
        'QueryCommand',
        'ScanCommand',
        'BatchGetItemCommand',
        'TransactGetItemsCommand',
      ].includes(context.commandName ?? '');
      const input = args.input as Record<string, unknown>;
      if (!('ReturnConsumedCapacity' in input) && !('TableName' in input && Object.keys(input).length === 1))
        input.ReturnConsumedCapacity = 'TOTAL';
      let out;
      try {
        out = await next(args);
      } catch (e) {
        const name = (e as { name?: string }).name;
        if (name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException') {
          m.failedConditions++;
          m.failedConditionUnits += attemptedWriteUnits(input, name === 'TransactionCanceledException');
        }
        throw e;
      }
      const consumed = (out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      // TOTAL reports CapacityUnits only: a read command's are read units, anything else's write units.
      for (const c of ([] as { CapacityUnits?: number }[]).concat((consumed as never) ?? [])) {
        if (reads) m.read += c.CapacityUnits ?? 0;
        else m.write += c.CapacityUnits ?? 0;
      }
      return out;
    },
    { step: 'initialize', name: 'meter' },
  );
  return { client, reset: () => void (m = zero()), read: () => ({ ...m }) };
}

/** Write units of the items a failed write tried to write (1 KB each, rounded up; a transaction's doubled). */
function attemptedWriteUnits(input: Record<string, unknown>, transaction: boolean): number {
  const items: Record<string, AttributeValue>[] = [];
  if (transaction) {
    for (const t of (input.TransactItems as { Put?: { Item: Record<string, AttributeValue> } }[] | undefined) ?? [])
      if (t.Put !== undefined) items.push(t.Put.Item);
  } else if (input.Item !== undefined) items.push(input.Item as Record<string, AttributeValue>);
  else return 1; // an update: its item is small here (a sequencer, a state)
  const units = items.reduce((n, item) => n + Math.max(1, Math.ceil(itemBytes(item) / 1024)), 0);
  return transaction ? 2 * units : units;
}

function itemBytes(item: Record<string, AttributeValue>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) {
    bytes += name.length;
    if (value.S !== undefined) bytes += Buffer.byteLength(value.S);
    else if (value.N !== undefined) bytes += Math.ceil(value.N.replace(/^-|^0+|\./g, '').length / 2) + 1;
    else if (value.B !== undefined) bytes += value.B.length;
    else bytes += Buffer.byteLength(JSON.stringify(value));
  }
  return bytes;
}

/**
 * The metered client, billing transactions as DynamoDB does: DynamoDB Local reports a
 * TransactWriteItems as twice its largest item (2 units for 3 small items), where DynamoDB bills
 * 2 write units per item and KB (6). Puts are sized from the request; a delete, update or
 * condition check counts as one KB (share-state items are about 400 bytes).
 */
/** Requests and billed capacity units, failed conditions included in `write`. */
export interface BilledUnits {
  readonly requests: number;
  readonly read: number;
  readonly write: number;
  readonly failedConditions: number;
}

export function billedClient() {
  const meter = meteredClient();
  let correction = 0;
  meter.client.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args);
      if (context.commandName === 'TransactWriteItemsCommand') {
        const items = (args.input as TransactWriteItemsCommandInput).TransactItems ?? [];
        const billed = 2 * items.reduce((n, t) => n + (t.Put === undefined ? 1 : kilobytes(t.Put.Item)), 0);
        const consumed = (out.output as { ConsumedCapacity?: { CapacityUnits?: number }[] }).ConsumedCapacity ?? [];
        correction += billed - consumed.reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
      }
      return out;
    },
    { step: 'initialize', name: 'transactionUnits', priority: 'low' },
  );
  return {
    client: meter.client,
    reset: () => {
      meter.reset();
      correction = 0;
    },
    read: (): BilledUnits => {
      const m = meter.read();
      return {
        requests: m.requests,
        read: m.read,
        write: m.write + m.failedConditionUnits + correction,
        failedConditions: m.failedConditions,
      };
    },
  };
}

/** An item's size in KB, rounded up (at least 1): attribute names and values, as DynamoDB counts them. */
function kilobytes(item: Record<string, AttributeValue> | undefined): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item ?? {})) {
    bytes += Buffer.byteLength(name);
    if (value.S !== undefined) bytes += Buffer.byteLength(value.S);
    else if (value.N !== undefined) bytes += Math.ceil(value.N.length / 2) + 1;
    else if (value.B !== undefined) bytes += value.B.length;
    else bytes += Buffer.byteLength(JSON.stringify(value));
  }
  return Math.max(1, Math.ceil(bytes / 1024));
}
