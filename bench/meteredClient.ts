import { DynamoDBClient, type AttributeValue } from '@aws-sdk/client-dynamodb';

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
  /**
   * Successful TransactWriteItems: the units DynamoDB Local reported for them, and what AWS bills
   * (2 per item per KB, sized from the request). Local reports less (2 for three 300-byte puts,
   * where AWS bills 6), so sections about transactions use `billed` in place of `reported`.
   */
  transactions: { reported: number; billed: number };
}

/** A DynamoDB client that counts requests and sums the capacity DynamoDB reports for them. */
export function meteredClient(): {
  client: DynamoDBClient;
  reset: () => void;
  read: () => Metered;
} {
  const client = new DynamoDBClient({ maxAttempts: 5 });
  const zero = (): Metered => ({
    requests: 0,
    read: 0,
    write: 0,
    failedConditions: 0,
    failedConditionUnits: 0,
    transactions: { reported: 0, billed: 0 },
  });
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
        if (context.commandName === 'TransactWriteItemsCommand') m.transactions.reported += c.CapacityUnits ?? 0;
      }
      if (context.commandName === 'TransactWriteItemsCommand') m.transactions.billed += billedTransactionUnits(input);
      return out;
    },
    { step: 'initialize', name: 'meter' },
  );
  return { client, reset: () => void (m = zero()), read: () => ({ ...m, transactions: { ...m.transactions } }) };
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

/** What AWS bills a transaction: 2 units per KB of each put item; an update, delete or check counts 1 KB (small items here). */
function billedTransactionUnits(input: Record<string, unknown>): number {
  let units = 0;
  for (const t of (input.TransactItems as { Put?: { Item: Record<string, AttributeValue> } }[] | undefined) ?? [])
    units += t.Put === undefined ? 1 : Math.max(1, Math.ceil(itemBytes(t.Put.Item) / 1024));
  return 2 * units;
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

/** Requests and billed capacity units, failed conditions included in `write`. */
export interface BilledUnits {
  readonly requests: number;
  readonly read: number;
  readonly write: number;
  readonly failedConditions: number;
}

/**
 * The metered client with write units as AWS bills them: failed conditions included, and
 * transactions at 2 units per KB per item in place of what DynamoDB Local reports (see `Metered`).
 */
export function billedClient() {
  const meter = meteredClient();
  return {
    client: meter.client,
    reset: meter.reset,
    read: (): BilledUnits => {
      const m = meter.read();
      return {
        requests: m.requests,
        read: m.read,
        write: m.write + m.failedConditionUnits - m.transactions.reported + m.transactions.billed,
        failedConditions: m.failedConditions,
      };
    },
  };
}
