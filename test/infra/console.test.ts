import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { App, CfnWaitConditionHandle, Stack } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { CachePolicy, OriginRequestPolicy } from 'aws-cdk-lib/aws-cloudfront';
import { ROUTES, routeKey } from '../../functions/http/routes.ts';
import { consoleEnabled } from '../../infra/app.ts';
import { buildConsole } from '../../infra/console/buildConsole.ts';
import { SPA_ROUTING_FUNCTION } from '../../infra/console/spaRouting.ts';
import { SluiceStack, type JwtAuth, type SluiceStackProps } from '../../infra/sluiceStack.ts';
import { httpRoutes, synthWithNag, type Resource } from './synthWithNag.ts';

/** A built console stand-in: no Vite build needed. Its config.json is the local stack's, which must not ship. */
const ASSETS = mkdtempSync(join(tmpdir(), 'sluice-console-assets-'));
mkdirSync(join(ASSETS, 'assets'));
writeFileSync(join(ASSETS, 'index.html'), '<!doctype html><title>Sluice</title><div id="app"></div>');
writeFileSync(join(ASSETS, 'assets', 'index-abc123.js'), 'console.log("sluice")');
writeFileSync(join(ASSETS, 'config.json'), JSON.stringify({ apiUrl: 'http://127.0.0.1:7070', local: true }));

/** Your own Cognito pool, say: its hosted UI signs in, its issuer serves discovery and keys. */
const JWT: JwtAuth = {
  type: 'jwt',
  issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc',
  audience: ['api-client', 'console-client'],
};
const OWN_AUTH = {
  authority: 'https://login.example.com/tenant',
  clientId: 'console-client',
  scopes: ['openid', 'sluice/admin'],
};

function synth(props: SluiceStackProps) {
  return synthWithNag((app) => new SluiceStack(app, 'Sluice', props), { bundle: false });
}

const only = (template: Template, type: string, props?: object): [string, Resource] => {
  const found = Object.entries(template.findResources(type, props === undefined ? undefined : { Properties: props }));
  expect(found.length, `one ${type}`).toBe(1);
  return found[0] as [string, Resource];
};

const idOf = (template: Template, type: string, props?: object) => only(template, type, props)[0];

/** The HTTP API resources by name: the stack's own (`Api`) and the console's (`ConsoleApi`). */
const httpApiIds = (template: Template) =>
  Object.keys(template.findResources('AWS::ApiGatewayV2::Api', { Properties: { ProtocolType: 'HTTP' } }));

type Behavior = Record<string, any>;

function behaviors(template: Template): { default: Behavior; byPath: Record<string, Behavior>; config: any } {
  const [, dist] = only(template, 'AWS::CloudFront::Distribution');
  const config = dist.Properties.DistributionConfig;
  return {
    default: config.DefaultCacheBehavior,
    byPath: Object.fromEntries((config.CacheBehaviors as Behavior[]).map((b) => [b.PathPattern, b])),
    config,
  };
}

/** The contents of config.json as deployed: the file in its staged asset, and the markers it carries. */
function deployedConfig(template: Template, directory: string) {
  const [, deployment] = only(template, 'Custom::CDKBucketDeployment');
  const keys = deployment.Properties.SourceObjectKeys as string[];
  const dirs = keys.map((k) => join(directory, `asset.${k.replace(/\.zip$/, '')}`));
  const configDir = dirs.find((d) => existsSync(join(d, 'config.json')) && !existsSync(join(d, 'index.html')));
  expect(configDir, 'a source holding config.json alone').toBeDefined();
  const text = readFileSync(join(configDir!, 'config.json'), 'utf8');
  const markers = (deployment.Properties.SourceMarkers as Record<string, unknown>[] | undefined)?.[
    dirs.indexOf(configDir!)
  ];
  return { deployment: deployment.Properties, dirs, text, config: JSON.parse(text), markers: markers ?? {} };
}

describe('console (stack prop console)', () => {
  let plain: Template;
  let iam: Template;
  let iamDir: string;
  let iamStack: SluiceStack;
  let jwt: Template;
  let jwtDir: string;
  let jwtStack: SluiceStack;
  beforeAll(() => {
    // cdk-nag's AwsSolutions pack runs on each (synth throws on an unacknowledged finding).
    ({ template: plain } = synth({}));
    ({ template: iam, directory: iamDir, stack: iamStack } = synth({ console: { assetsPath: ASSETS } }));
    ({
      template: jwt,
      directory: jwtDir,
      stack: jwtStack,
    } = synth({
      auth: JWT,
      authorization: 'acl',
      adminPrincipals: ['jwt:alice'],
      encryptionKey: true,
      console: { assetsPath: ASSETS, auth: OWN_AUTH },
    }));
  });

  it('is off by default: no distribution, bucket deployment, user pool or second API', () => {
    for (const type of [
      'AWS::CloudFront::Distribution',
      'AWS::CloudFront::Function',
      'AWS::CloudFront::OriginAccessControl',
      'Custom::CDKBucketDeployment',
      'AWS::Cognito::UserPool',
      'AWS::Cognito::UserPoolClient',
    ])
      expect(Object.keys(plain.findResources(type)), type).toEqual([]);
    expect(Object.keys(plain.findResources('AWS::S3::Bucket'))).toHaveLength(1);
    expect(httpApiIds(plain)).toHaveLength(1);
    expect(Object.keys(plain.findOutputs('*')).filter((o) => o.startsWith('Console'))).toEqual([]);
    const { template } = synth({ console: false });
    expect(Object.keys(template.findResources('AWS::CloudFront::Distribution'))).toEqual([]);
  });

  it('keeps the files in a private, encrypted, TLS-only bucket that only this distribution may read', () => {
    const consoleBucket = Object.keys(iam.findResources('AWS::S3::Bucket')).find((id) => id.startsWith('Console'));
    expect(consoleBucket).toBeDefined();
    const props = iam.toJSON().Resources[consoleBucket!].Properties;
    expect(props.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault).toEqual({
      SSEAlgorithm: 'AES256',
    });
    const distribution = idOf(iam, 'AWS::CloudFront::Distribution');
    const [, policy] = only(iam, 'AWS::S3::BucketPolicy', { Bucket: { Ref: consoleBucket } });
    const statements = policy.Properties.PolicyDocument.Statement as Record<string, any>[];
    expect(statements.filter((s) => s.Effect === 'Deny').map((s) => s.Condition)).toEqual([
      { Bool: { 'aws:SecureTransport': 'false' } },
    ]);
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]!.Principal).toEqual({ Service: 'cloudfront.amazonaws.com' });
    expect(allows[0]!.Action).toBe('s3:GetObject');
    expect(JSON.stringify(allows[0]!.Condition.StringEquals['AWS:SourceArn'])).toContain(
      `:distribution/",{"Ref":"${distribution}"}]`,
    );
    // Origin access control signs CloudFront's requests; no legacy OAI.
    const oac = idOf(iam, 'AWS::CloudFront::OriginAccessControl');
    const s3Origin = (behaviors(iam).config.Origins as Record<string, any>[]).find((o) => o.S3OriginConfig);
    expect(s3Origin!.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [oac, 'Id'] });
    expect(s3Origin!.S3OriginConfig.OriginAccessIdentity).toBe('');
  });

  it('encrypts the files with the stack’s key when it has one, and lets CloudFront decrypt them', () => {
    const consoleBucket = Object.entries(jwt.findResources('AWS::S3::Bucket')).find(([id]) =>
      id.startsWith('Console'),
    )![1] as Resource;
    const key = idOf(jwt, 'AWS::KMS::Key');
    expect(consoleBucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0]).toEqual({
      BucketKeyEnabled: true,
      ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [key, 'Arn'] } },
    });
    const keyPolicy = (jwt.toJSON().Resources[key].Properties.KeyPolicy.Statement as Record<string, any>[]).filter(
      (s) => JSON.stringify(s.Principal).includes('cloudfront'),
    );
    expect(keyPolicy.map((s) => s.Action)).toEqual(['kms:Decrypt']);
  });

  it('serves /console/* from the bucket with the routing function, and /v1/* from the API uncached', () => {
    const { default: root, byPath, config } = behaviors(iam);
    const fn = idOf(iam, 'AWS::CloudFront::Function');
    expect(iam.toJSON().Resources[fn].Properties.FunctionCode).toBe(SPA_ROUTING_FUNCTION);
    const s3Origin = (config.Origins as Record<string, any>[]).find((o) => o.S3OriginConfig)!.Id;
    for (const b of [root, byPath['/console/*']!]) {
      expect(b.TargetOriginId).toBe(s3Origin);
      expect(b.FunctionAssociations).toEqual([
        { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [fn, 'FunctionARN'] } },
      ]);
      expect(b.AllowedMethods).toEqual(['GET', 'HEAD']);
    }
    const api = byPath['/v1/*']!;
    expect(api.CachePolicyId).toBe(CachePolicy.CACHING_DISABLED.cachePolicyId);
    expect(api.OriginRequestPolicyId).toBe(OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.originRequestPolicyId);
    expect([...api.AllowedMethods].sort()).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT']);
    expect(api.ViewerProtocolPolicy).toBe('https-only');
    expect(api.FunctionAssociations, 'API errors pass through untouched').toBeUndefined();
    expect(config.CustomErrorResponses, 'no distribution-wide error pages over API errors').toBeUndefined();
    const apiOrigin = (config.Origins as Record<string, any>[]).find((o) => o.Id === api.TargetOriginId)!;
    const consoleApi = httpApiIds(iam).find((id) => id.startsWith('ConsoleApi'));
    expect(JSON.stringify(apiOrigin.DomainName)).toContain(`{"Ref":"${consoleApi}"},".execute-api."`);
    expect(apiOrigin.CustomOriginConfig).toMatchObject({
      OriginProtocolPolicy: 'https-only',
      OriginSSLProtocols: ['TLSv1.2'],
    });
    // HTTPS only, and every behaviour sends the security headers.
    const headers = idOf(iam, 'AWS::CloudFront::ResponseHeadersPolicy');
    for (const b of [root, ...Object.values(byPath)]) {
      expect(b.ViewerProtocolPolicy).not.toBe('allow-all');
      expect(b.ResponseHeadersPolicyId).toEqual({ Ref: headers });
    }
    const security = iam.toJSON().Resources[headers].Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    expect(security.StrictTransportSecurity).toMatchObject({ AccessControlMaxAgeSec: 63072000, Override: true });
    expect(security.FrameOptions.FrameOption).toBe('DENY');
    // The CSP names the region's Cognito endpoints (a deploy-time value) for the sign-in.
    const csp = JSON.stringify(security.ContentSecurityPolicy.ContentSecurityPolicy);
    expect(csp).toMatch(
      /default-src 'self'.*connect-src 'self' https:\/\/\*\.auth\..*amazoncognito\.com.*frame-ancestors 'none'/,
    );
    expect(config.HttpVersion).toBe('http2and3');
  });

  it('routes a console page to index.html, / to /console/, and leaves files alone (the CloudFront Function)', () => {
    // In a context of its own, as CloudFront runs it: nothing of Node's globals.
    const handler = runInNewContext(`${SPA_ROUTING_FUNCTION}; handler`, {}) as (event: unknown) => any;
    const run = (uri: string) => handler({ request: { uri, method: 'GET', headers: {} } });
    for (const uri of ['/', '/console']) {
      expect(run(uri), uri).toEqual({
        statusCode: 302,
        statusDescription: 'Found',
        headers: { location: { value: '/console/' } },
      });
    }
    for (const uri of ['/console/', '/console/topics', '/console/topics/orders', '/console/groups/g1/lag'])
      expect(run(uri).uri, uri).toBe('/console/index.html');
    for (const uri of ['/console/assets/index-abc123.js', '/console/config.json', '/console/favicon.svg', '/other'])
      expect(run(uri).uri, uri).toBe(uri);
  });

  it('with IAM auth: a Cognito pool that admins fill, a public code-grant client, and a JWT API for the console', () => {
    const [pool, poolResource] = only(iam, 'AWS::Cognito::UserPool');
    expect(poolResource.Properties.AdminCreateUserConfig.AllowAdminCreateUserOnly).toBe(true);
    expect(poolResource.Properties.Policies.PasswordPolicy).toMatchObject({
      MinimumLength: 12,
      RequireLowercase: true,
      RequireUppercase: true,
      RequireNumbers: true,
      RequireSymbols: true,
    });
    expect(poolResource.Properties.MfaConfiguration).toBe('OPTIONAL');
    const [client, clientResource] = only(iam, 'AWS::Cognito::UserPoolClient');
    const c = clientResource.Properties;
    expect(c.GenerateSecret).toBe(false);
    expect(c.AllowedOAuthFlows).toEqual(['code']);
    expect(c.AllowedOAuthScopes).toEqual(['openid', 'email', 'profile']);
    const distribution = idOf(iam, 'AWS::CloudFront::Distribution');
    const consoleUrl = { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution, 'DomainName'] }, '/console/']] };
    expect(c.CallbackURLs).toEqual([consoleUrl]);
    expect(c.LogoutURLs).toEqual([consoleUrl]);
    only(iam, 'AWS::Cognito::UserPoolDomain', { UserPoolId: { Ref: pool } });

    // The console API's authorizer takes exactly this pool's tokens for this client.
    const apis = httpApiIds(iam);
    expect(apis).toHaveLength(2);
    const consoleApi = apis.find((id) => id.startsWith('ConsoleApi'))!;
    const mainApi = apis.find((id) => id !== consoleApi)!;
    const [authorizer, authorizerResource] = only(iam, 'AWS::ApiGatewayV2::Authorizer');
    expect(authorizerResource.Properties).toMatchObject({
      ApiId: { Ref: consoleApi },
      AuthorizerType: 'JWT',
      JwtConfiguration: {
        Issuer: { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [pool, 'ProviderURL'] }]] },
        Audience: [{ Ref: client }],
      },
    });
    // The same routes on both APIs: IAM on the stack's own, this JWT authorizer on the console's.
    const routes = httpRoutes(iam);
    const on = (api: string) => routes.filter((r) => r.Properties.ApiId.Ref === api);
    const keys = ROUTES.map((r) => routeKey(r)).sort();
    expect(
      on(mainApi)
        .map((r) => r.Properties.RouteKey)
        .sort(),
    ).toEqual(keys);
    expect(
      on(consoleApi)
        .map((r) => r.Properties.RouteKey)
        .sort(),
    ).toEqual(keys);
    for (const r of on(mainApi)) expect(r.Properties.AuthorizationType, r.Properties.RouteKey).toBe('AWS_IAM');
    for (const r of on(consoleApi)) {
      expect(r.Properties.AuthorizationType, r.Properties.RouteKey).toBe('JWT');
      expect(r.Properties.AuthorizerId).toEqual({ Ref: authorizer });
    }
    // The console API invokes each function through one permission scoped to that API.
    const permissions = (Object.values(iam.findResources('AWS::Lambda::Permission')) as Resource[]).filter((p) =>
      JSON.stringify(p.Properties.SourceArn).includes(`{"Ref":"${consoleApi}"}`),
    );
    const functions = new Set(permissions.map((p) => JSON.stringify(p.Properties.FunctionName)));
    expect(permissions.length).toBe(functions.size);
    expect(functions.size).toBe(new Set(ROUTES.map((r) => r.handler)).size);
    // Its stage is throttled and logs callers like the API's.
    const stage = only(iam, 'AWS::ApiGatewayV2::Stage', { ApiId: { Ref: consoleApi } })[1];
    expect(stage.Properties.DefaultRouteSettings.ThrottlingRateLimit).toBe(1000);
    expect(JSON.parse(stage.Properties.AccessLogSettings.Format as string).sub).toBe('$context.authorizer.claims.sub');
  });

  it('writes config.json at deploy: same-origin API, the hosted UI and the client, no secret; not the build’s own', () => {
    const { deployment, dirs, text, config, markers } = deployedConfig(iam, iamDir);
    expect(deployment.DestinationBucketKeyPrefix).toBe('console/');
    const files = dirs.find((d) => existsSync(join(d, 'index.html')))!;
    expect(existsSync(join(files, 'assets', 'index-abc123.js'))).toBe(true);
    expect(existsSync(join(files, 'config.json')), 'the local config.json is left out').toBe(false);
    expect(Object.keys(config).sort()).toEqual(['apiUrl', 'auth']);
    expect(config.apiUrl).toBe('');
    expect(Object.keys(config.auth).sort()).toEqual(['authority', 'clientId', 'redirectPath', 'scopes']);
    expect(config.auth.redirectPath).toBe('/console/');
    expect(config.auth.scopes).toEqual(['openid', 'email', 'profile']);
    // Deploy-time values travel as markers that the deployment replaces.
    const resolve = (s: string) => s.replace(/<<marker:0xbaba:\d+>>/g, (m) => JSON.stringify(markers[m]));
    const domain = idOf(iam, 'AWS::Cognito::UserPoolDomain');
    const client = idOf(iam, 'AWS::Cognito::UserPoolClient');
    expect(resolve(config.auth.authority)).toBe(
      `https://{"Ref":"${domain}"}.auth.{"Ref":"AWS::Region"}.amazoncognito.com`,
    );
    expect(resolve(config.auth.clientId)).toBe(`{"Ref":"${client}"}`);
    expect(`${text} ${JSON.stringify(markers)}`).not.toMatch(/secret/i);
    expect(JSON.stringify(iam.toJSON())).not.toMatch(/ClientSecret/);
  });

  it('outputs the console URL, its user pool and its API', () => {
    const outputs = iam.findOutputs('*');
    const distribution = idOf(iam, 'AWS::CloudFront::Distribution');
    expect(outputs.ConsoleUrl!.Value).toEqual({
      'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distribution, 'DomainName'] }, '/console/']],
    });
    expect(outputs.ConsoleUserPoolId!.Value).toEqual({ Ref: idOf(iam, 'AWS::Cognito::UserPool') });
    expect(iamStack.console?.url).toBeDefined();
    expect(outputs.ApiUrl, 'the IAM API is still there').toBeDefined();
  });

  it('with a JWT auth of your own: no pool, /v1/* to the API itself, config.json from console.auth', () => {
    expect(Object.keys(jwt.findResources('AWS::Cognito::UserPool'))).toEqual([]);
    expect(httpApiIds(jwt)).toHaveLength(1);
    expect(jwtStack.consoleApi).toBeUndefined();
    const { byPath, config } = behaviors(jwt);
    const apiOrigin = (config.Origins as Record<string, any>[]).find((o) => o.Id === byPath['/v1/*']!.TargetOriginId)!;
    expect(JSON.stringify(apiOrigin.DomainName)).toContain(`{"Ref":"${httpApiIds(jwt)[0]}"}`);
    const deployed = deployedConfig(jwt, jwtDir);
    expect(deployed.config).toEqual({
      apiUrl: '',
      auth: { ...OWN_AUTH, redirectPath: '/console/' },
    });
    const headers = only(jwt, 'AWS::CloudFront::ResponseHeadersPolicy')[1];
    expect(
      headers.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy,
    ).toContain("connect-src 'self' https://login.example.com https://cognito-idp.eu-west-1.amazonaws.com;");
    expect(jwt.findOutputs('ConsoleUserPoolId')).toEqual({});
    Annotations.fromStack(jwtStack).hasNoWarning('*', Match.stringLikeRegexp('console.auth.scopes'));
  });

  /** A stack to import the certificate in (with a resource: CloudFormation refuses an empty template). */
  const certificates = (app: App) => {
    const stack = new Stack(app, 'Certificates');
    new CfnWaitConditionHandle(stack, 'Placeholder');
    return stack;
  };

  it('requires TLS 1.2 on your own domain names, turns Cognito’s threat protection on when asked, and is cdk-nag clean in a concrete environment', () => {
    const certificate = 'arn:aws:acm:us-east-1:123456789012:certificate/abc';
    const custom = synthWithNag(
      (app) =>
        new SluiceStack(app, 'Sluice', {
          // A concrete environment, as `cdk deploy` gives the app: cdk-nag then names the
          // deployment handler's resources with this account and region.
          env: { account: '123456789012', region: 'eu-west-1' },
          console: {
            assetsPath: ASSETS,
            threatProtection: true,
            domainNames: ['console.example.com'],
            // Imported by ARN (a literal): the certificate lives in us-east-1, made elsewhere.
            certificate: Certificate.fromCertificateArn(certificates(app), 'Cert', certificate),
          },
        }),
      { bundle: false },
    );
    const { config } = behaviors(custom.template);
    expect(config.Aliases).toEqual(['console.example.com']);
    expect(config.ViewerCertificate).toMatchObject({
      AcmCertificateArn: certificate,
      MinimumProtocolVersion: 'TLSv1.2_2021',
      SslSupportMethod: 'sni-only',
    });
    const client = only(custom.template, 'AWS::Cognito::UserPoolClient')[1].Properties;
    expect(JSON.stringify(client.CallbackURLs)).toContain('"https://console.example.com/console/"');
    expect(client.CallbackURLs).toHaveLength(2);
    expect(custom.template.findOutputs('ConsoleUrl').ConsoleUrl!.Value).toBe('https://console.example.com/console/');
    const pool = only(custom.template, 'AWS::Cognito::UserPool')[1].Properties;
    expect(pool.UserPoolTier).toBe('PLUS');
    expect(pool.UserPoolAddOns).toEqual({ AdvancedSecurityMode: 'ENFORCED' });
    expect(only(iam, 'AWS::Cognito::UserPool')[1].Properties.UserPoolTier).toBe('ESSENTIALS');
    // The default certificate's TLS policy is CloudFront's: none is claimed.
    expect(behaviors(iam).config.ViewerCertificate).toBeUndefined();
  });

  it('refuses settings that cannot work, saying what to do', () => {
    const make = (props: SluiceStackProps) => () =>
      new SluiceStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Checked', props);
    const empty = mkdtempSync(join(tmpdir(), 'sluice-console-empty-'));
    expect(make({ console: { assetsPath: empty } })).toThrow(/index\.html does not exist.*npm run build:console/);
    expect(make({ console: { assetsPath: ASSETS, auth: OWN_AUTH } })).toThrow(/console\.auth is for a JWT auth/);
    expect(make({ auth: JWT, console: { assetsPath: ASSETS } })).toThrow(/console\.auth .* is required/);
    expect(make({ auth: JWT, console: { assetsPath: ASSETS, auth: { ...OWN_AUTH, clientId: 'other' } } })).toThrow(
      /must be one of auth\.audience/,
    );
    expect(make({ console: { assetsPath: ASSETS, domainPrefix: 'My_Console' } })).toThrow(/domainPrefix/);
    expect(make({ console: { assetsPath: ASSETS, domainPrefix: 'aws-console' } })).toThrow(/domainPrefix/);
    expect(make({ console: { assetsPath: ASSETS, domainNames: ['console.example.com'] } })).toThrow(
      /domainNames and console\.certificate/,
    );
    expect(
      make({
        auth: JWT,
        console: { assetsPath: ASSETS, auth: { ...OWN_AUTH, authority: 'http://login.example.com' } },
      }),
    ).toThrow(/https URL/);
    // With IAM and the console, console users are JWT principals that super users may name.
    const admins = ['iam:arn:aws:iam::123456789012:role/Admin', 'claim:cognito:groups=admins'];
    expect(make({ authorization: 'acl', adminPrincipals: admins })).toThrow(/never match/);
    expect(make({ authorization: 'acl', adminPrincipals: admins, console: { assetsPath: ASSETS } })).not.toThrow();
    const stack = make({ auth: JWT, console: { assetsPath: ASSETS, auth: { ...OWN_AUTH, scopes: ['openid'] } } })();
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('console.auth.scopes ask for none'));
  });

  it('is turned on in the CDK app by -c console=true, which builds the console first', () => {
    expect(consoleEnabled(new App())).toBe(false);
    expect(consoleEnabled(new App({ context: { console: 'true' } }))).toBe(true);
    expect(consoleEnabled(new App({ context: { console: 'false' } }))).toBe(false);
    const root = mkdtempSync(join(tmpdir(), 'sluice-console-build-'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'x', scripts: {} }));
    expect(() => buildConsole(root)).toThrow(/no build:console script/);
    const build =
      "node -e \"require('fs').mkdirSync('console/dist',{recursive:true});require('fs').writeFileSync('console/dist/index.html','ok')\"";
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'x', scripts: { 'build:console': build } }));
    buildConsole(root);
    expect(readFileSync(join(root, 'console', 'dist', 'index.html'), 'utf8')).toBe('ok');
  });
});
