import { Annotations } from 'aws-cdk-lib';
import { metadataKeys } from '../core/schema.ts';
import { DEFAULT_PRINCIPAL_CLAIMS } from '../functions/http/caller.ts';
import type { IConstruct } from 'constructs';
import type { Scope } from '../functions/http/routes.ts';

/**
 * The environment variables through which every HTTP function learns how to authorize callers
 * (read by the handlers' ACL checks, `core/security/`).
 */
export const AUTHORIZATION_ENV = {
  /** `acl` or `open`. */
  mode: 'SLUICE_AUTHORIZATION',
  /** Comma-separated super users (`iam:<arn>`, `jwt:<value>`). */
  adminPrincipals: 'SLUICE_ADMIN_PRINCIPALS',
  /** Comma-separated JWT claims whose values become extra principals; JWT auth only. */
  principalClaims: 'SLUICE_JWT_PRINCIPAL_CLAIMS',
} as const;

/** Cognito puts a user's groups in `cognito:groups`; OAuth servers put granted scopes in `scope`. */
export { DEFAULT_PRINCIPAL_CLAIMS } from '../functions/http/caller.ts';

/** The metadata table's partition key of ACL rules (sort key: the rule id), as the ACL store writes it. */
export const ACL_PARTITION = metadataKeys.aclPartition;

/** The OAuth scope a route requires from JWT callers when the authorizer checks scopes. */
export function oauthScope(scope: Scope): string {
  return `sluice/${scope}`;
}

/**
 * Lambda allows 4 KB of environment variables per function, and the sagas function's catalog may
 * take 3 KB of them: a longer list of super users belongs in ACL rules (or in one JWT group).
 */
const MAX_ADMIN_PRINCIPALS_LENGTH = 512;

const IAM_PRINCIPAL = /^iam:arn:aws[a-z-]*:(iam|sts)::\d{12}:(role|user|assumed-role)\/[\w+=,.@/-]+$/;
const JWT_PRINCIPAL = /^jwt:[^\s,]{1,256}$/;
/** A JWT caller by a value of a claim the stack names: `claim:cognito:groups=admins`. */
const CLAIM_PRINCIPAL = /^claim:[^\s,=]{1,128}=[^\s,]{1,256}$/;
const CLAIM_NAME = /^[^\s,]{1,128}$/;

export interface AuthorizationOptions {
  readonly authType: 'iam' | 'jwt';
  /**
   * IAM auth with the console on: the console API admits JWT callers (the console's user pool)
   * beside the HTTP API's IAM callers, so both kinds of principal can match.
   */
  readonly consoleJwt?: boolean;
  readonly authorization?: 'acl' | 'open';
  readonly adminPrincipals?: readonly string[];
  readonly principalClaims?: readonly string[];
}

/**
 * Validates the authorization props (errors say how to fix them; doubtful but legal settings
 * become synth warnings on `scope`) and returns the environment every HTTP function gets.
 */
export function authorizationEnvironment(scope: IConstruct, options: AuthorizationOptions): Record<string, string> {
  const mode = options.authorization ?? 'open';
  if (mode !== 'acl' && mode !== 'open') throw new Error(`authorization must be 'acl' or 'open', not ${String(mode)}`);
  const admins = options.adminPrincipals ?? [];
  for (const principal of admins) {
    if (!IAM_PRINCIPAL.test(principal) && !JWT_PRINCIPAL.test(principal) && !CLAIM_PRINCIPAL.test(principal)) {
      throw new Error(
        `adminPrincipals: ${JSON.stringify(principal)} is not a principal; write iam:<IAM role, user or assumed-role ARN> (e.g. iam:arn:aws:iam::123456789012:role/Admin), jwt:<subject> (e.g. jwt:alice) or claim:<claim>=<value> (e.g. claim:cognito:groups=admins), without spaces or commas`,
      );
    }
    const kind = principal.startsWith('claim:') ? 'jwt' : principal.slice(0, 3);
    const kinds = options.consoleJwt === true ? [options.authType, 'jwt'] : [options.authType];
    if (!kinds.includes(kind)) {
      throw new Error(
        `adminPrincipals: ${principal} can never match: callers authenticate with ${options.authType.toUpperCase()}, so super users are ${options.authType}:… principals (or, with console: true, jwt: and claim: ones too)`,
      );
    }
  }
  if (new Set(admins).size !== admins.length) throw new Error('adminPrincipals: a principal is listed twice');
  const adminList = admins.join(',');
  if (adminList.length > MAX_ADMIN_PRINCIPALS_LENGTH) {
    throw new Error(
      `adminPrincipals: ${adminList.length} characters, more than ${MAX_ADMIN_PRINCIPALS_LENGTH} (they travel in Lambda's 4 KB of environment variables); grant the others through ACL rules, or name one JWT group`,
    );
  }
  if (options.principalClaims !== undefined && options.authType !== 'jwt')
    throw new Error('principalClaims apply to JWT auth only');
  for (const claim of options.principalClaims ?? []) {
    if (!CLAIM_NAME.test(claim))
      throw new Error(`principalClaims: ${JSON.stringify(claim)} must be a claim name without spaces or commas`);
  }

  if (mode === 'open') {
    Annotations.of(scope).addWarningV2(
      'sluice:authorization-open',
      "authorization is 'open': any authenticated caller may do anything (create and delete topics, read and write every topic, reset any group). Set authorization: 'acl' and adminPrincipals to authorize per principal.",
    );
    if (admins.length > 0)
      Annotations.of(scope).addWarningV2(
        'sluice:admin-principals-unused',
        "adminPrincipals have no effect while authorization is 'open'.",
      );
  } else if (admins.length === 0) {
    Annotations.of(scope).addWarningV2(
      'sluice:no-admin-principals',
      `authorization is 'acl' without adminPrincipals: only ACL rules (metadata partition '${ACL_PARTITION}') grant anything.`,
    );
  }

  return {
    [AUTHORIZATION_ENV.mode]: mode,
    [AUTHORIZATION_ENV.adminPrincipals]: adminList,
    ...(options.authType === 'jwt'
      ? { [AUTHORIZATION_ENV.principalClaims]: (options.principalClaims ?? DEFAULT_PRINCIPAL_CLAIMS).join(',') }
      : {}),
  };
}
