import { Duration, Token, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import {
  AccountRecovery,
  FeaturePlan,
  Mfa,
  OAuthScope,
  StandardThreatProtectionMode,
  UserPool,
  UserPoolClient,
  UserPoolClientIdentityProvider,
  type UserPoolDomain,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';

/** The scopes the console asks Cognito for: who the user is, nothing more (no API scopes: see below). */
export const CONSOLE_SIGN_IN_SCOPES = ['openid', 'email', 'profile'] as const;

/** A Cognito hosted UI domain prefix: lowercase letters, digits and hyphens, no "aws", "amazon" or "cognito". */
const DOMAIN_PREFIX = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export interface ConsoleSignInProps {
  /**
   * Where Cognito sends users back after signing in and out: the console's address on each of
   * the distribution's domains (`https://<domain>/console/`).
   */
  readonly consoleUrls: readonly string[];
  /** The hosted UI's domain prefix (`https://<prefix>.auth.<region>.amazoncognito.com`). */
  readonly domainPrefix: string;
  /** @default - generated */
  readonly userPoolName?: string;
  /** Users are data: the pool follows the stack's removal policy. */
  readonly removalPolicy: RemovalPolicy;
  /**
   * Cognito's threat protection (compromised credentials, adaptive authentication): the Plus
   * feature plan, billed per monthly active user.
   * @default false - the Essentials plan
   */
  readonly threatProtection?: boolean;
}

/**
 * Sign-in for the console when the stack's callers use IAM: a Cognito user pool that only
 * administrators add users to (no self sign-up), a strong password policy, optional TOTP MFA, the
 * hosted UI, and one public app client (no secret: the console is a browser app and cannot keep
 * one) with the authorization code grant, which the console completes with PKCE.
 *
 * The client asks for the OpenID scopes only. The console's API (a JWT twin of the HTTP API, see
 * `SluiceStack`) requires no OAuth scopes: every user of this pool would be granted the same ones,
 * so they would gate nothing. What a user may do is decided per resource by the ACLs
 * (`authorization: 'acl'`), for the principals `jwt:<sub>` and `claim:cognito:groups=<group>`.
 */
export class ConsoleSignIn extends Construct {
  readonly userPool: UserPool;
  readonly client: UserPoolClient;
  readonly domain: UserPoolDomain;
  /** The hosted UI: `https://<prefix>.auth.<region>.amazoncognito.com` (the console's `auth.authority`). */
  readonly authority: string;
  /** The tokens' issuer, `https://cognito-idp.<region>.amazonaws.com/<pool id>`: what the JWT authorizer checks. */
  readonly issuer: string;

  constructor(scope: Construct, id: string, props: ConsoleSignInProps) {
    super(scope, id);
    const prefix = props.domainPrefix;
    if (!Token.isUnresolved(prefix) && (!DOMAIN_PREFIX.test(prefix) || /aws|amazon|cognito/.test(prefix)))
      throw new Error(
        `console.domainPrefix ${JSON.stringify(props.domainPrefix)} must be 1-63 lowercase letters, digits and hyphens (not first or last), without "aws", "amazon" or "cognito"; it must also be unused in the region`,
      );
    if (props.consoleUrls.length === 0) throw new Error('ConsoleSignIn needs at least one console URL');
    const threatProtection = props.threatProtection ?? false;
    this.userPool = new UserPool(this, 'UserPool', {
      ...(props.userPoolName === undefined ? {} : { userPoolName: props.userPoolName }),
      selfSignUpEnabled: false, // administrators create users (aws cognito-idp admin-create-user)
      signInAliases: { email: true },
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3), // the invitation's temporary password
      },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { sms: false, otp: true }, // TOTP apps: no SMS role, no SMS costs
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      featurePlan: threatProtection ? FeaturePlan.PLUS : FeaturePlan.ESSENTIALS,
      ...(threatProtection ? { standardThreatProtectionMode: StandardThreatProtectionMode.FULL_FUNCTION } : {}),
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is optional: each user may add a TOTP app; requiring it would lock out the first administrator until set up. Require it in the pool if your policy says so.',
    });
    if (!threatProtection)
      Validations.of(this.userPool).acknowledge({
        id: 'AwsSolutions-COG8',
        reason:
          'The Plus feature plan (threat protection) is billed per monthly active user; console: { threatProtection: true } turns it on.',
      });
    this.domain = this.userPool.addDomain('Domain', { cognitoDomain: { domainPrefix: props.domainPrefix } });
    this.client = this.userPool.addClient('Client', {
      generateSecret: false,
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true, implicitCodeGrant: false, clientCredentials: false },
        scopes: [OAuthScope.OPENID, OAuthScope.EMAIL, OAuthScope.PROFILE],
        callbackUrls: [...props.consoleUrls],
        logoutUrls: [...props.consoleUrls],
      },
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12), // a working day; then sign in again
    });
    this.authority = this.domain.baseUrl();
    this.issuer = `https://${this.userPool.userPoolProviderUrl}`;
  }
}
