import { DeleteItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { expect, it } from 'vitest';
import { Admin, Producer } from '../../client/index.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { useApi } from '../support/e2e.ts';

const api = useApi('producer');

it('the idempotent Producer goes on after the engine forgot it (its state expired): a new epoch from sequence 0', async ({
  skip,
}) => {
  skip(process.env.SLUICE_API_URL !== undefined, 'SLUICE_API_URL: this test removes producer state behind the API');
  await new Admin({ url: api.url }).createTopic('forgetful', { partitions: 1 });
  const producer = new Producer({ url: api.url, idempotent: true, lingerMs: 0 });
  const first = await producer.send('forgetful', { key: 'k', value: 1 });
  // What DynamoDB's TTL does a week after the producer's last write.
  const dynamo = dynamoClientFromEnv();
  const items = await dynamo.send(
    new ScanCommand({
      TableName: api.tables!.metadata,
      FilterExpression: 'begins_with(pk, :p)',
      ExpressionAttributeValues: { ':p': { S: 'producer#' } },
    }),
  );
  expect(items.Items?.length).toBe(1);
  for (const item of items.Items ?? [])
    await dynamo.send(new DeleteItemCommand({ TableName: api.tables!.metadata, Key: { pk: item.pk!, sk: item.sk! } }));
  const second = await producer.send('forgetful', { key: 'k', value: 2 });
  expect([first.offset, second.offset]).toStrictEqual([0, 1]);
  await producer.close();
});
