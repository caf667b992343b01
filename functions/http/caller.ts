import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Caller } from '../../core/security/authorizer.ts';

/** JWT claims whose values name the caller too (groups, scopes), unless the stack names others. */
export const DEFAULT_PRINCIPAL_CLAIMS: readonly string[] = ['cognito:groups', 'scope'];

interface AuthorizerContext {
  readonly iam?: { readonly userArn?: string | null };
  readonly jwt?: { readonly claims?: Record<string, unknown> };
}

/**
 * Who the API's authorizer says is calling (`acl.ts` names principals):
 * - SigV4: `iam:<userArn>`; an assumed-role session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`)
 *   is also `iam:arn:aws:iam::<account>:role/<role>`, so a rule can name the role (without its path);
 * - JWT: `jwt:<sub>`, and `claim:<name>=<value>` for each value of each claim in `claimNames`
 *   (API Gateway passes an array claim as "[a b]", and `scope` is space-separated);
 * - otherwise `anonymous`.
 */
export function callerOf(event: APIGatewayProxyEventV2, claimNames: readonly string[]): Caller {
  const authorizer = (event.requestContext as { authorizer?: AuthorizerContext }).authorizer;
  const arn = authorizer?.iam?.userArn;
  if (typeof arn === 'string' && arn !== '') {
    const role = /^arn:(aws[\w-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(arn);
    return {
      principals: [`iam:${arn}`, ...(role === null ? [] : [`iam:arn:${role[1]}:iam::${role[2]}:role/${role[3]}`])],
    };
  }
  const claims = authorizer?.jwt?.claims;
  if (claims !== undefined && typeof claims.sub === 'string' && claims.sub !== '') {
    const principals = [`jwt:${claims.sub}`];
    for (const name of claimNames)
      for (const value of claimValues(claims[name])) principals.push(`claim:${name}=${value}`);
    return { principals };
  }
  return { principals: ['anonymous'] };
}

function claimValues(claim: unknown): string[] {
  if (Array.isArray(claim)) return claim.filter((v): v is string => typeof v === 'string' && v !== '');
  if (typeof claim !== 'string') return [];
  const text = claim.startsWith('[') && claim.endsWith(']') ? claim.slice(1, -1) : claim;
  return text.split(/[\s,]+/).filter((v) => v !== '');
}
