import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CLUSTER, type Access, type Operation, type ResourceType } from '../../core/security/acl.ts';
import { Authorizer, type AuthorizationMode, type Decision } from '../../core/security/authorizer.ts';
import { DynamoAclStore } from '../../core/security/dynamoAclStore.ts';
import { TABLE_NAME_ENV } from '../../core/schema.ts';
import { requiredEnv } from '../env.ts';
import type { HttpEvent } from '../http/httpHandler.ts';
import { logger, tracer } from '../powertools.ts';

/**
 * The container's authorizer, configured by the stack: `SLUICE_AUTHORIZATION` (`acl` or `open`,
 * the default), `SLUICE_ADMIN_PRINCIPALS` (comma-separated principals allowed everything). Every
 * admin action and every refusal is an audit log line naming the principal.
 */
export const aclStore = new DynamoAclStore({
  client: tracer.captureAWSv3Client(new DynamoDBClient({})),
  table: requiredEnv(TABLE_NAME_ENV.metadata),
});

export const authorizer = new Authorizer({
  mode: authorizationMode(process.env.SLUICE_AUTHORIZATION),
  store: aclStore,
  superUsers: listEnv(process.env.SLUICE_ADMIN_PRINCIPALS),
  onDecision: audit,
});

function authorizationMode(value: string | undefined): AuthorizationMode {
  if (value === undefined || value === '' || value === 'open') return 'open';
  if (value === 'acl') return 'acl';
  throw new Error(`SLUICE_AUTHORIZATION must be "acl" or "open", got ${JSON.stringify(value)}`);
}

export function listEnv(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function audit(decision: Decision): void {
  const line = {
    audit: true,
    principal: decision.principal,
    operation: decision.access.operation,
    resourceType: decision.access.resourceType,
    resourceName: decision.access.resourceName,
    allowed: decision.allowed,
    reason: decision.reason,
  };
  if (decision.allowed) logger.info('Authorization', line);
  else logger.warn('Authorization refused', line);
}

export function access(operation: Exclude<Operation, 'all'>, resourceType: ResourceType, resourceName: string): Access {
  return { operation, resourceType, resourceName };
}

export const onCluster = (operation: Exclude<Operation, 'all'>): Access => access(operation, 'cluster', CLUSTER);

/** Refuses the request (403 `NotAuthorized`, before any work) unless the caller may make every access. */
export async function authorize(event: HttpEvent, ...accesses: Access[]): Promise<void> {
  await authorizer.authorize(event.caller, accesses);
}

/** The items of a listing the caller may see. */
export async function visible<T>(event: HttpEvent, items: readonly T[], accessOf: (item: T) => Access): Promise<T[]> {
  const shown: T[] = [];
  for (const item of items)
    if (await authorizer.allows(event.caller, accessOf(item), { audit: false })) shown.push(item);
  return shown;
}
