import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  CachePolicy,
  CachedMethods,
  Distribution,
  Function as CloudFrontFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  OriginSslPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
  type BehaviorOptions,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { nagEnvironment } from '../nagNames.ts';
import { PROJECT_ROOT } from '../sluiceFunction.ts';
import { CONSOLE_SIGN_IN_SCOPES, ConsoleSignIn } from './consoleSignIn.ts';
import { CONSOLE_PATH, SPA_ROUTING_FUNCTION } from './spaRouting.ts';

/** Where `npm run build:console` (Vite) writes the console. */
export const DEFAULT_CONSOLE_ASSETS = join(PROJECT_ROOT, 'console', 'dist');

/**
 * How the console signs users in with a Cognito user pool of your own (the stack's JWT `auth`):
 * the console speaks Cognito's hosted UI endpoints and access tokens (`client_id`, no `aud`);
 * other OpenID Connect providers are not supported yet (they would need discovery and `audience`).
 */
export interface ConsoleAuth {
  /** The user pool's hosted UI, e.g. `https://example.auth.eu-west-1.amazoncognito.com` (or its custom domain). */
  readonly authority: string;
  /** The console's public client (no secret), registered with `https://<domain>/console/` as its redirect URI. */
  readonly clientId: string;
  /** What the console asks for: `openid`, and the API's scopes (`sluice/produce`, …) when routes require them. */
  readonly scopes: readonly string[];
}

/** The stack prop `console`. */
export interface ConsoleProps {
  /**
   * The built console (an `index.html` at its root), deployed under `/console/`.
   * @default 'console/dist' of the project (`npm run build:console`)
   */
  readonly assetsPath?: string;
  /**
   * With the stack's default IAM auth: the prefix of the Cognito hosted UI's domain,
   * `https://<prefix>.auth.<region>.amazoncognito.com` (unique in the region).
   * @default `<namePrefix>-console` with a namePrefix, else `<stack name, lowercased>-console-<account>`
   */
  readonly domainPrefix?: string;
  /**
   * With a JWT `auth` of your own (Cognito, Auth0, …): how the console signs in. Required then
   * (its clientId must be one of `auth.audience`); not allowed with IAM auth, where the stack
   * makes a Cognito user pool.
   */
  readonly auth?: ConsoleAuth;
  /**
   * Cognito threat protection for the stack's user pool (the Plus feature plan, billed per
   * monthly active user). @default false
   */
  readonly threatProtection?: boolean;
  /**
   * Your own names for the distribution (e.g. `console.example.com`), with a certificate for them
   * in us-east-1: viewers must then use TLS 1.2 or later. On the default `*.cloudfront.net` name
   * CloudFront still accepts TLS 1.0 and 1.1 from viewers, whatever the distribution says.
   * @default - the distribution's cloudfront.net name only
   */
  readonly domainNames?: readonly string[];
  /** The ACM certificate (in us-east-1) for `domainNames`. */
  readonly certificate?: ICertificate;
}

export interface SluiceConsoleProps extends ConsoleProps {
  /** The API the console calls, same-origin, under `/v1/*`. */
  readonly api: IHttpApi;
  /** The stack's key for the assets at rest, if it has one; else S3-managed keys. */
  readonly encryptionKey?: IKey;
  readonly removalPolicy: RemovalPolicy;
  /** Used to derive names: the user pool's and the default domain prefix. */
  readonly namePrefix?: string;
  /** The issuer of the stack's JWT auth, when it has one: the console's client may fetch its discovery and keys. */
  readonly issuer?: string;
}

/**
 * The console deployed with the stack: its files in a private bucket (encrypted, TLS only, block
 * public access, readable by this distribution alone through origin access control), a CloudFront
 * distribution that serves them under `/console/` and sends `/v1/*` to the API uncached (same
 * origin: no CORS), and `/console/config.json`, written at deploy, telling the console where to
 * sign in. With IAM auth it makes the sign-in (a Cognito user pool, `ConsoleSignIn`).
 */
export class SluiceConsole extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  /** `https://<distribution domain>/console/` (or the first of `domainNames`). */
  readonly url: string;
  /** The user pool and its client, when the stack made them (IAM auth). */
  readonly signIn: ConsoleSignIn | undefined;
  /** What the console reads at `/console/config.json` (may hold deploy-time tokens; never a secret). */
  readonly config: ConsoleConfig;

  constructor(scope: Construct, id: string, props: SluiceConsoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const assetsPath = props.assetsPath ?? DEFAULT_CONSOLE_ASSETS;
    if (!existsSync(join(assetsPath, 'index.html')))
      throw new Error(
        `console: ${join(assetsPath, 'index.html')} does not exist. Build the console first (npm run build:console), or point console.assetsPath at a directory with the built console.`,
      );
    if ((props.domainNames?.length ?? 0) > 0 !== (props.certificate !== undefined))
      throw new Error('console.domainNames and console.certificate go together: a certificate for those names');

    this.bucket = new Bucket(this, 'Bucket', {
      ...(props.encryptionKey === undefined
        ? { encryption: BucketEncryption.S3_MANAGED }
        : { encryption: BucketEncryption.KMS, encryptionKey: props.encryptionKey, bucketKeyEnabled: true }),
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: false, // the deployment below removes its files when the stack is destroyed
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The console’s files are public build output, written only by the deployment and read only by the distribution; access logs would need a second bucket per deployment, as for the segment bucket.',
    });

    const routing = new CloudFrontFunction(this, 'SpaRouting', {
      code: FunctionCode.fromInline(SPA_ROUTING_FUNCTION),
      runtime: FunctionRuntime.JS_2_0,
      comment: 'Sluice console: / to /console/, console pages to /console/index.html',
    });
    const s3 = S3BucketOrigin.withOriginAccessControl(this.bucket);
    const consoleFiles: BehaviorOptions = {
      origin: s3,
      viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: CachedMethods.CACHE_GET_HEAD,
      cachePolicy: CachePolicy.CACHING_OPTIMIZED,
      compress: true,
      functionAssociations: [{ function: routing, eventType: FunctionEventType.VIEWER_REQUEST }],
    };
    // The API's own domain; CloudFront passes the viewer's headers (Authorization) but not Host,
    // which must name the API for API Gateway to route the request.
    const api = new HttpOrigin(`${props.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`, {
      protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [OriginSslPolicy.TLS_V1_2],
      readTimeout: Duration.seconds(30), // API Gateway answers within 30 s (long polls wait at most 20 s)
    });
    const authorityOrigins = this.authorityOrigins(props);
    const headers = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Sluice console: HSTS, CSP, no framing, no sniffing',
      securityHeadersBehavior: {
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
        xssProtection: { protection: true, modeBlock: true, override: true },
        // The console's own scripts and styles, the API on the same origin, and the sign-in
        // provider's endpoints (token exchange, discovery, keys) for the OpenID Connect client.
        contentSecurityPolicy: {
          contentSecurityPolicy: [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            `connect-src 'self' ${authorityOrigins.join(' ')}`,
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "object-src 'none'",
          ].join('; '),
          override: true,
        },
      },
    });
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Sluice console and API',
      defaultBehavior: { ...consoleFiles, responseHeadersPolicy: headers },
      additionalBehaviors: {
        '/console/*': { ...consoleFiles, responseHeadersPolicy: headers },
        '/v1/*': {
          origin: api,
          viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY, // a redirected POST would lose its body
          allowedMethods: AllowedMethods.ALLOW_ALL,
          cachePolicy: CachePolicy.CACHING_DISABLED,
          originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          responseHeadersPolicy: headers,
          compress: true,
        },
      },
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      // The TLS policy applies to a certificate of your own; the default one's is CloudFront's.
      ...(props.certificate === undefined
        ? {}
        : {
            domainNames: [...(props.domainNames ?? [])],
            certificate: props.certificate,
            minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
          }),
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'The console is for the stack’s operators wherever they are; sign-in guards it, not geography.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR2',
      reason:
        'A web ACL costs a monthly fee per distribution; the files are public build output and the API behind /v1/* authorizes and throttles every request. Attach one with distribution.attachWebAclId if you need it.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR3',
      reason:
        'Standard logging needs a second bucket (with ACLs) per deployment; API calls are in the API’s access logs, and the console’s files are public build output.',
    });
    if (props.certificate === undefined)
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason:
          'On the default cloudfront.net name CloudFront sets the viewer TLS policy itself; console.domainNames with a certificate enforce TLS 1.2 (TLSv1.2_2021).',
      });

    const urls = [
      `https://${this.distribution.distributionDomainName}${CONSOLE_PATH}`,
      ...(props.domainNames ?? []).map((d) => `https://${d}${CONSOLE_PATH}`),
    ];
    this.url = props.domainNames?.[0] === undefined ? urls[0]! : `https://${props.domainNames[0]}${CONSOLE_PATH}`;

    if (props.auth === undefined) {
      this.signIn = new ConsoleSignIn(this, 'SignIn', {
        consoleUrls: urls,
        domainPrefix: props.domainPrefix ?? defaultDomainPrefix(stack, props.namePrefix),
        ...(props.namePrefix === undefined ? {} : { userPoolName: `${props.namePrefix}-console` }),
        removalPolicy: props.removalPolicy,
        ...(props.threatProtection === undefined ? {} : { threatProtection: props.threatProtection }),
      });
      this.config = consoleConfig({
        authority: this.signIn.authority,
        clientId: this.signIn.client.userPoolClientId,
        scopes: CONSOLE_SIGN_IN_SCOPES,
      });
    } else {
      this.signIn = undefined;
      this.config = consoleConfig(props.auth);
    }

    new BucketDeployment(this, 'Deployment', {
      sources: [
        // The build's own config.json (the local stack's) must not shadow the deployed one.
        Source.asset(assetsPath, { exclude: ['config.json'] }),
        Source.jsonData('config.json', this.config),
      ],
      destinationBucket: this.bucket,
      destinationKeyPrefix: CONSOLE_PATH.slice(1),
      // Browsers and CloudFront revalidate every file (a 304 when unchanged), so a deploy shows at once.
      // @debt Vite's hashed assets could be cached for a year, in a deployment of their own.
      cacheControl: [CacheControl.noCache()],
      prune: true,
      retainOnDelete: props.removalPolicy !== RemovalPolicy.DESTROY,
    });
    this.acknowledgeDeploymentHandler(props.encryptionKey !== undefined);
  }

  /** The sign-in provider's origins, for the console's connect-src. */
  private authorityOrigins(props: SluiceConsoleProps): string[] {
    const stack = Stack.of(this);
    if (props.auth === undefined) {
      // The hosted UI (token endpoint) and Cognito's issuer (discovery, keys), in this region.
      return [
        `https://*.auth.${stack.region}.amazoncognito.com`,
        `https://cognito-idp.${stack.region}.${stack.urlSuffix}`,
      ];
    }
    // The authority, and the issuer when it is elsewhere (a Cognito pool's hosted UI signs in,
    // its issuer serves discovery and keys).
    const origins = [httpsOrigin('console.auth.authority', props.auth.authority)];
    if (props.issuer !== undefined) origins.push(httpsOrigin('auth.issuer', props.issuer));
    return [...new Set(origins)];
  }

  /**
   * BucketDeployment's handler is a singleton function of the stack (CDK's, Python) with CDK's
   * role: acknowledge its findings there, with reasons.
   */
  private acknowledgeDeploymentHandler(withKey: boolean): void {
    const stack = Stack.of(this);
    const bucketId = stack.getLogicalId(this.bucket.node.defaultChild as CfnBucket);
    // The bootstrap assets bucket as cdk-nag names it: account and region as given to the stack.
    const synthesizer = stack.synthesizer;
    const qualifier =
      (synthesizer instanceof DefaultStackSynthesizer ? synthesizer.bootstrapQualifier : undefined) ??
      DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    const { account, region } = nagEnvironment(stack);
    const wildcards = [
      // Reading the asset (a zip under a generated key) from CDK's assets bucket.
      `Resource::arn:<AWS::Partition>:s3:::cdk-${qualifier}-assets-${account}-${region}/*`,
      // Writing, and pruning, the console's files (keys from the build) in the console bucket.
      `Resource::<${bucketId}.Arn>/*`,
      'Action::s3:GetObject*',
      'Action::s3:GetBucket*',
      'Action::s3:List*',
      'Action::s3:DeleteObject*',
      'Action::s3:Abort*',
      ...(withKey ? ['Action::kms:ReEncrypt*', 'Action::kms:GenerateDataKey*'] : []),
    ];
    for (const child of stack.node.children) {
      if (!child.node.id.startsWith('Custom::CDKBucketDeployment')) continue;
      Validations.of(child).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'CDK’s BucketDeployment handler writes its own logs with the basic execution role, nothing more.',
      });
      for (const finding of wildcards)
        Validations.of(child).acknowledge({
          id: `AwsSolutions-IAM5[${finding}]`,
          reason:
            'CDK’s BucketDeployment handler copies the console’s asset (a generated key in the CDK assets bucket) to the console bucket and prunes old files there (keys from the build): CDK’s grants on those two buckets (and their key) only.',
        });
      Validations.of(child).acknowledge({
        id: 'AwsSolutions-L1',
        reason: 'CDK’s BucketDeployment handler runs on the runtime CDK chose for it, upgraded with aws-cdk-lib.',
      });
    }
  }
}

/** The origin of an https URL, for a CSP source (a deploy-time value stays as it is). */
function httpsOrigin(what: string, url: string): string {
  if (Token.isUnresolved(url)) return url;
  let origin: string;
  try {
    origin = new URL(url).origin;
  } catch {
    throw new Error(`${what} ${JSON.stringify(url)} must be an https URL`);
  }
  if (!origin.startsWith('https://')) throw new Error(`${what} ${url} must be an https URL`);
  return origin;
}

/** What the console reads at `/console/config.json`. */
export interface ConsoleConfig {
  /** Empty: the API is on the console's own origin (`/v1/*`). */
  readonly apiUrl: string;
  readonly auth: {
    readonly authority: string;
    readonly clientId: string;
    readonly scopes: readonly string[];
    readonly redirectPath: string;
  };
}

function consoleConfig(auth: ConsoleAuth): ConsoleConfig {
  return {
    apiUrl: '',
    auth: { authority: auth.authority, clientId: auth.clientId, scopes: [...auth.scopes], redirectPath: CONSOLE_PATH },
  };
}

/** `<namePrefix>-console`, else `<stack name>-console-<account>`, lowercased (Cognito domain prefixes are). */
function defaultDomainPrefix(stack: Stack, namePrefix: string | undefined): string {
  if (namePrefix !== undefined) return `${namePrefix}-console`;
  const base = stack.stackName.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  return `${base}-console-${stack.account}`;
}
