import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack.ts';
import { uniqueName } from './names.ts';

/** The local stack with sagas on the harness's DynamoDB, its own tables, and the order example's table names. */
export async function startOrderSagaStack(
  prefix: string,
  sagas: Exclude<LocalStackOptions['sagas'], boolean | undefined>,
): Promise<{ stack: LocalStack; tables: { inventory: string; payments: string } }> {
  const base = uniqueName(prefix);
  const stack = await startLocalStack({
    port: 0,
    tieringIntervalMs: 0,
    dynamoEndpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL,
    s3Endpoint: process.env.AWS_ENDPOINT_URL_S3,
    bucket: process.env.SLUICE_SEGMENT_BUCKET,
    tables: { log: `${base}-log`, metadata: `${base}-meta` },
    sagas,
  });
  return { stack, tables: orderTables(stack) };
}

/** The order example's inventory and payments tables, by their template logical ids. */
export function orderTables(stack: LocalStack): { inventory: string; payments: string } {
  const byId = stack.sagas!.tables;
  const find = (part: string) => byId[Object.keys(byId).find((id) => id.includes(part))!]!;
  return { inventory: find('Inventory'), payments: find('Payments') };
}
