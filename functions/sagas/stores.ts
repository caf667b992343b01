import { DynamoLeases, DynamoSagaExecutionStore } from '../../core/sagas/dynamoExecutionStore.ts';
import { client, tables } from '../runtime.ts';

/** Saga execution records and leases, for the saga functions only (the others never load them). */
export const sagaExecutions = new DynamoSagaExecutionStore({ client, table: tables.metadata });
export const leases = new DynamoLeases({ client, table: tables.metadata });
