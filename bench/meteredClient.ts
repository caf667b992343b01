import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** A DynamoDB client that counts requests and sums the capacity DynamoDB reports for them. */
export function meteredClient(): {
  client: DynamoDBClient;
  reset: () => void;
  read: () => { requests: number; read: number; write: number };
} {
  const client = new DynamoDBClient({ maxAttempts: 5 });
  let requests = 0;
  let read = 0;
  let write = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      requests++;
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
      const out = await next(args);
      const consumed = (out.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      // TOTAL reports CapacityUnits only: a read command's are read units, anything else's write units.
      for (const c of ([] as { CapacityUnits?: number }[]).concat((consumed as never) ?? [])) {
        if (reads) read += c.CapacityUnits ?? 0;
        else write += c.CapacityUnits ?? 0;
      }
      return out;
    },
    { step: 'initialize', name: 'meter' },
  );
  return { client, reset: () => void (requests = read = write = 0), read: () => ({ requests, read, write }) };
}
