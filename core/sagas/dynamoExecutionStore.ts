import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { JsonValue } from '../log/records.ts';
import { metadataKeys } from '../schema.ts';
import {
  DuplicateRun,
  inputDigest,
  SagaEventConflict,
  statusAfter,
  type SagaEvent,
  type SagaExecution,
  type SagaExecutionStore,
  type SagaExecutionSummary,
  type SagaStatus,
} from './executions.ts';

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

  async create(execution: {
    saga: string;
    executionId: string;
    input: JsonValue;
    createdAt: number;
    launchLease: { holder: string; ttlMs: number };
  }) {
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
      launchLeaseUntil: execution.createdAt + execution.launchLease.ttlMs,
      launchLeaseHolder: execution.launchLease.holder,
      nextSeq: 0,
      events: [],
    };
    try {
      // A taken id comes back with the failed condition: one request either way.
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall(item),
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { created: true, execution: { ...fromItem(item), inputDigest: digest } };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException) || e.Item === undefined) throw e;
      const existing = unmarshall(e.Item);
      return { created: false, execution: { ...fromItem(existing), inputDigest: String(existing.inputDigest ?? '') } };
    }
  }

  async releaseLaunch(saga: string, executionId: string, holder: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(metadataKeys.sagaExecution(saga, executionId)),
          UpdateExpression: 'REMOVE launchLeaseUntil, launchLeaseHolder',
          ConditionExpression: 'launchLeaseHolder = :h',
          ExpressionAttributeValues: marshall({ ':h': holder }),
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e; // expired and taken by another start: theirs
    }
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

  async list(
    saga: string,
    options: { limit: number; after?: string },
  ): Promise<{ executions: SagaExecutionSummary[]; next?: string }> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :exec)',
        ExpressionAttributeValues: { ':pk': { S: metadataKeys.sagaPartition(saga) }, ':exec': { S: 'exec#' } },
        ProjectionExpression: 'saga, executionId, #status, createdAt, updatedAt, launched, failedStep',
        ExpressionAttributeNames: { '#status': 'status' },
        Limit: options.limit,
        ...(options.after === undefined
          ? {}
          : { ExclusiveStartKey: marshall(metadataKeys.sagaExecution(saga, options.after)) }),
      }),
    );
    const executions = (out.Items ?? []).map((i) => summaryFromItem(unmarshall(i)));
    const last =
      out.LastEvaluatedKey === undefined
        ? undefined
        : String(unmarshall(out.LastEvaluatedKey).sk).slice('exec#'.length);
    return last === undefined ? { executions } : { executions, next: last };
  }

  async applyEvent(event: SagaEvent, runId?: string, auditPartition?: number): Promise<void> {
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
        ...(runId === undefined ? {} : { ':run': runId }),
        ...(auditPartition === undefined || event.seq !== 0 ? {} : { ':part': auditPartition }),
      },
      { removeUndefinedValues: true },
    );
    const sameSeq = event.seq === 0 ? '(attribute_not_exists(nextSeq) OR nextSeq = :seq)' : 'nextSeq = :seq';
    // `started` claims the execution for its run; every later event must come from that run.
    const sameRun =
      runId === undefined
        ? ''
        : event.seq === 0
          ? ' AND (attribute_not_exists(runId) OR runId = :run)'
          : ' AND runId = :run';
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
            (event.failedStep === undefined ? '' : ', failedStep = :fs') +
            (runId !== undefined && event.seq === 0 ? ', runId = :run' : '') +
            (auditPartition !== undefined && event.seq === 0 ? ', auditPartition = :part' : ''),
          ConditionExpression: sameSeq + sameRun,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: values,
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      const item = await this.getItem(event.saga, event.executionId);
      if (runId !== undefined && typeof item?.runId === 'string' && item.runId !== runId)
        throw new DuplicateRun(event.executionId);
      const stored = ((item?.events as SagaEvent[] | undefined) ?? [])[event.seq];
      if (stored !== undefined && stored.type === event.type && stored.step === event.step) return; // applied before: a retry
      if (stored !== undefined)
        throw new SagaEventConflict(
          event.executionId,
          event.seq,
          `is already ${stored.type}${stored.step === undefined ? '' : ` of ${stored.step}`}`,
        );
      throw new SagaEventConflict(event.executionId, event.seq, `arrived before event ${Number(item?.nextSeq ?? 0)}`);
    }
  }

  async leaseLaunch(saga: string, executionId: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(metadataKeys.sagaExecution(saga, executionId)),
          UpdateExpression: 'SET launchLeaseUntil = :until, launchLeaseHolder = :h',
          ConditionExpression:
            'attribute_exists(pk) AND launched = :f AND (attribute_not_exists(launchLeaseUntil) OR launchLeaseUntil < :now)',
          ExpressionAttributeValues: marshall({ ':until': now + ttlMs, ':now': now, ':f': false, ':h': holder }),
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  private async getItem(saga: string, executionId: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: marshall(metadataKeys.sagaExecution(saga, executionId)),
        ConsistentRead: true,
      }),
    );
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
    ...(typeof item.runId === 'string' ? { runId: item.runId } : {}),
    ...(typeof item.auditPartition === 'number' ? { auditPartition: item.auditPartition } : {}),
    input: JSON.parse(typeof item.inputJson === 'string' ? item.inputJson : 'null') as JsonValue,
    events: ((item.events as SagaEvent[] | undefined) ?? []).map(
      ({ seq, type, saga, executionId, at, step, failedStep, outcome, error }) => ({
        seq,
        type,
        saga,
        executionId,
        at,
        ...(step === undefined ? {} : { step }),
        ...(failedStep === undefined ? {} : { failedStep }),
        ...(outcome === undefined ? {} : { outcome }),
        ...(error === undefined ? {} : { error }),
      }),
    ),
  };
}

export { DynamoLeases } from '../adapters/dynamodb/dynamoLeases.ts';
