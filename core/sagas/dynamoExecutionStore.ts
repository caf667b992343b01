import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { JsonValue } from '../records.ts';
import { metadataKeys } from '../schema.ts';
import { inputDigest, statusAfter, type SagaEvent, type SagaExecution, type SagaExecutionStore, type SagaExecutionSummary, type SagaStatus } from './executions.ts';

/**
 * Saga executions in the metadata table, one item each under `pk = saga#<name>`. Events are
 * appended with a condition on `nextSeq`, so an audit call that Step Functions retries after an
 * ambiguous failure is applied once.
 */
export class DynamoSagaExecutionStore implements SagaExecutionStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: { client: DynamoDBClient; table: string }) {
    this.client = options.client;
    this.table = options.table;
  }

  async create(execution: { saga: string; executionId: string; input: JsonValue; createdAt: number }) {
    const digest = inputDigest(execution.input);
    const item = {
      ...metadataKeys.sagaExecution(execution.saga, execution.executionId),
      saga: execution.saga,
      executionId: execution.executionId,
      status: 'PENDING' satisfies SagaStatus,
      inputJson: JSON.stringify(execution.input),
      inputDigest: digest,
      createdAt: execution.createdAt,
      updatedAt: execution.createdAt,
      launched: false,
      nextSeq: 0,
      events: [],
    };
    try {
      await this.client.send(new PutItemCommand({ TableName: this.table, Item: marshall(item), ConditionExpression: 'attribute_not_exists(pk)' }));
      return { created: true, execution: { ...fromItem(item), inputDigest: digest } };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    }
    const existing = await this.getItem(execution.saga, execution.executionId);
    if (existing === undefined) throw new Error('execution vanished after a failed create');
    return { created: false, execution: { ...fromItem(existing), inputDigest: String(existing.inputDigest ?? '') } };
  }

  async markLaunched(saga: string, executionId: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(metadataKeys.sagaExecution(saga, executionId)),
        UpdateExpression: 'SET launched = :t',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':t': { BOOL: true } },
      }),
    );
  }

  async get(saga: string, executionId: string): Promise<SagaExecution | undefined> {
    const item = await this.getItem(saga, executionId);
    return item === undefined ? undefined : fromItem(item);
  }

  async list(saga: string, options: { limit: number; after?: string }): Promise<{ executions: SagaExecutionSummary[]; next?: string }> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :exec)',
        ExpressionAttributeValues: { ':pk': { S: metadataKeys.sagaPartition(saga) }, ':exec': { S: 'exec#' } },
        ProjectionExpression: 'saga, executionId, #status, createdAt, updatedAt, launched, failedStep',
        ExpressionAttributeNames: { '#status': 'status' },
        Limit: options.limit,
        ...(options.after === undefined ? {} : { ExclusiveStartKey: marshall(metadataKeys.sagaExecution(saga, options.after)) }),
      }),
    );
    const executions = (out.Items ?? []).map((i) => summaryFromItem(unmarshall(i)));
    const last = out.LastEvaluatedKey === undefined ? undefined : String(unmarshall(out.LastEvaluatedKey).sk).slice('exec#'.length);
    return last === undefined ? { executions } : { executions, next: last };
  }

  async applyEvent(event: SagaEvent): Promise<void> {
    const values: Record<string, AttributeValue> = marshall(
      {
        ':seq': event.seq,
        ':next': event.seq + 1,
        ':status': statusAfter(event.type),
        ':at': event.at,
        ':e': [event],
        ':empty': [],
        ':saga': event.saga,
        ':id': event.executionId,
        ':null': 'null',
        ':t': true,
        ...(event.failedStep === undefined ? {} : { ':fs': event.failedStep }),
      },
      { removeUndefinedValues: true },
    );
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(metadataKeys.sagaExecution(event.saga, event.executionId)),
          // An execution started outside the API (the console, a test) gets its record on `started`.
          UpdateExpression:
            'SET #status = :status, updatedAt = :at, nextSeq = :next, events = list_append(if_not_exists(events, :empty), :e), ' +
            'saga = if_not_exists(saga, :saga), executionId = if_not_exists(executionId, :id), createdAt = if_not_exists(createdAt, :at), ' +
            'inputJson = if_not_exists(inputJson, :null), launched = :t' +
            (event.failedStep === undefined ? '' : ', failedStep = :fs'),
          ConditionExpression: event.seq === 0 ? 'attribute_not_exists(nextSeq) OR nextSeq = :seq' : 'nextSeq = :seq',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: values,
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      const item = await this.getItem(event.saga, event.executionId);
      if (item !== undefined && Number(item.nextSeq) > event.seq) return; // applied before: a retry
      throw new Error(`Saga ${event.saga} execution ${event.executionId}: event ${event.seq} arrived before event ${String(item?.nextSeq ?? 0)}`);
    }
  }

  private async getItem(saga: string, executionId: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.table, Key: marshall(metadataKeys.sagaExecution(saga, executionId)), ConsistentRead: true }));
    return out.Item === undefined ? undefined : unmarshall(out.Item);
  }
}

function summaryFromItem(item: Record<string, unknown>): SagaExecutionSummary {
  return {
    saga: String(item.saga),
    executionId: String(item.executionId),
    status: item.status as SagaStatus,
    createdAt: Number(item.createdAt),
    updatedAt: Number(item.updatedAt),
    launched: item.launched === true,
    ...(typeof item.failedStep === 'string' ? { failedStep: item.failedStep } : {}),
  };
}

function fromItem(item: Record<string, unknown>): SagaExecution {
  return {
    ...summaryFromItem(item),
    input: JSON.parse(String(item.inputJson ?? 'null')) as JsonValue,
    events: ((item.events as SagaEvent[] | undefined) ?? []).map(({ seq, type, saga, executionId, at, step, failedStep, error }) => ({
      seq,
      type,
      saga,
      executionId,
      at,
      ...(step === undefined ? {} : { step }),
      ...(failedStep === undefined ? {} : { failedStep }),
      ...(error === undefined ? {} : { error }),
    })),
  };
}
