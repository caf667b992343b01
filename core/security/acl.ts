import { createHash } from 'node:crypto';
import { InvalidArgument } from '../errors.ts';

/**
 * Access-control rules, as Kafka's ACLs: who (a principal) may or may not do what (an operation)
 * to which resources (a type, and a name matched literally or by prefix).
 *
 * - A principal is a name the caller is known by: `iam:<ARN>` for SigV4 callers (an assumed-role
 *   session is also known by its role's ARN), `jwt:<subject>` for JWT callers, and
 *   `claim:<name>=<value>` for each value of the JWT claims the stack names (groups, scopes);
 *   `anonymous` for a caller the API knows nothing of; `*` in a rule matches any caller.
 * - A literal resource name matches itself, and `*` matches every resource of the type; a
 *   prefixed one matches every name that starts with it.
 * - `all` matches every operation. As in Kafka, allowing `read`, `write`, `delete` or `alter`
 *   allows `describe` too.
 * - Deny wins over allow; what no rule allows is denied.
 */
export const RESOURCE_TYPES = [
  'topic',
  'group',
  'shareGroup',
  'exchange',
  'subscription',
  'saga',
  'job',
  'transactionalId',
  'cluster',
] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export const OPERATIONS = ['read', 'write', 'create', 'delete', 'alter', 'describe', 'all'] as const;
export type Operation = (typeof OPERATIONS)[number];

export type PatternType = 'literal' | 'prefixed';
export type Permission = 'allow' | 'deny';

/** The one cluster resource's name: cluster operations (tiering runs, ACL changes) name it. */
export const CLUSTER = 'sluice';

export interface AclRule {
  readonly principal: string;
  readonly resourceType: ResourceType;
  readonly resourceName: string;
  readonly patternType: PatternType;
  readonly operation: Operation;
  readonly permission: Permission;
}

/** A rule as stored and listed: with its id, derived from its content (so adding it twice is one rule). */
export interface StoredAclRule extends AclRule {
  readonly id: string;
}

/** One thing a request does: an operation on a resource. */
export interface Access {
  readonly operation: Exclude<Operation, 'all'>;
  readonly resourceType: ResourceType;
  readonly resourceName: string;
}

const MAX_PRINCIPAL_CHARS = 512;
const MAX_RESOURCE_NAME_CHARS = 512;
const PRINCIPAL = /^(\*|anonymous|(iam|jwt):[^\s]+|claim:[^\s=]+=[^\s]+)$/;
const RULE_KEYS = ['principal', 'resourceType', 'resourceName', 'patternType', 'operation', 'permission'];

/** A rule from a request body, checked field by field. */
export function parseAclRule(input: unknown): AclRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new InvalidArgument('body', `an ACL rule is { ${RULE_KEYS.join(', ')} }`);
  const body = input as Record<string, unknown>;
  const unknown = Object.keys(body).find((k) => !RULE_KEYS.includes(k));
  if (unknown !== undefined)
    throw new InvalidArgument(unknown.slice(0, 64), `unknown field; a rule has ${RULE_KEYS.join(', ')}`);
  const principal = body.principal;
  if (typeof principal !== 'string' || principal.length > MAX_PRINCIPAL_CHARS || !PRINCIPAL.test(principal))
    throw new InvalidArgument(
      'principal',
      'principal must be "*", "anonymous", "iam:<ARN>", "jwt:<subject>" or "claim:<name>=<value>" (at most 512 characters, no spaces)',
    );
  const resourceType = oneOf('resourceType', body.resourceType, RESOURCE_TYPES);
  const patternType = oneOf('patternType', body.patternType ?? 'literal', ['literal', 'prefixed'] as const);
  const resourceName = body.resourceName;
  if (
    typeof resourceName !== 'string' ||
    resourceName.length === 0 ||
    resourceName.length > MAX_RESOURCE_NAME_CHARS ||
    [...resourceName].some((ch) => ch.charCodeAt(0) < 0x20)
  )
    throw new InvalidArgument('resourceName', 'resourceName must be 1 to 512 printable characters');
  if (resourceType === 'cluster' && (patternType !== 'literal' || (resourceName !== CLUSTER && resourceName !== '*')))
    throw new InvalidArgument('resourceName', `the cluster resource is named "${CLUSTER}" (literal)`);
  return {
    principal,
    resourceType,
    resourceName,
    patternType,
    operation: oneOf('operation', body.operation, OPERATIONS),
    permission: oneOf('permission', body.permission ?? 'allow', ['allow', 'deny'] as const),
  };
}

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value))
    throw new InvalidArgument(field, `${field} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** A rule's id: a hash of its fields, so equal rules share one id. */
export function aclId(rule: AclRule): string {
  const canonical = JSON.stringify(RULE_KEYS.map((k) => rule[k as keyof AclRule]));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/** Operations whose allowance also allows `describe`, as in Kafka. */
const IMPLIES_DESCRIBE: ReadonlySet<Operation> = new Set(['read', 'write', 'delete', 'alter']);

/** Rules grouped by resource type, for matching many requests against the same rules. */
export class AclIndex {
  private readonly byType = new Map<ResourceType, AclRule[]>();

  constructor(rules: readonly AclRule[]) {
    for (const rule of rules) {
      const list = this.byType.get(rule.resourceType) ?? [];
      list.push(rule);
      this.byType.set(rule.resourceType, list);
    }
  }

  /** `deny` if a matching rule denies, else `allow` if one allows, else `none`. */
  decide(principals: readonly string[], access: Access): 'allow' | 'deny' | 'none' {
    let allowed = false;
    for (const rule of this.byType.get(access.resourceType) ?? []) {
      if (rule.principal !== '*' && !principals.includes(rule.principal)) continue;
      if (!namesMatch(rule, access.resourceName)) continue;
      if (rule.permission === 'deny') {
        if (rule.operation === 'all' || rule.operation === access.operation) return 'deny';
      } else if (
        rule.operation === 'all' ||
        rule.operation === access.operation ||
        (access.operation === 'describe' && IMPLIES_DESCRIBE.has(rule.operation))
      ) {
        allowed = true;
      }
    }
    return allowed ? 'allow' : 'none';
  }
}

function namesMatch(rule: AclRule, name: string): boolean {
  if (rule.patternType === 'prefixed') return name.startsWith(rule.resourceName);
  return rule.resourceName === '*' || rule.resourceName === name;
}
