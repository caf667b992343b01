import type { AclRule } from '../../core/security/acl.ts';

/** An allow rule for jwt:alice to read topic orders, with the fields given changed. */
export function aclRule(overrides: Partial<AclRule> = {}): AclRule {
  return {
    principal: 'jwt:alice',
    resourceType: 'topic',
    resourceName: 'orders',
    patternType: 'literal',
    operation: 'read',
    permission: 'allow',
    ...overrides,
  };
}
