import { assert, beforeAll, describe, expect, it } from 'vitest';
import { App, CfnWaitConditionHandle, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { OrderSagaExample } from '../../examples/order-saga/stack.ts';
import { HANDLER_ENTRY, ROUTES, routeKey } from '../../functions/http/routes.ts';
import { AUTHORIZATION_ENV } from '../../infra/authorization.ts';
import { SluiceStack, type JwtAuth, type SluiceStackProps } from '../../infra/sluiceStack.ts';
import {
  actionsOf,
  httpRoutes,
  statementsByFunction,
  synthWithNag,
  type Resource,
  type Statement,
} from './synthWithNag.ts';

/** The functions that authorize callers: the HTTP API's and the WebSocket API's. */
const HTTP_FUNCTIONS = [...Object.keys(HANDLER_ENTRY), 'websocket'].sort();
const JWT: JwtAuth = { type: 'jwt', issuer: 'https://issuer.example.com', audience: ['sluice'] };

/** The hardened configuration: JWT, ACLs with a super user, a customer managed key; with a saga (and so its trigger). */
const SECURE: SluiceStackProps = {
  auth: JWT,
  authorization: 'acl',
  adminPrincipals: ['jwt:alice'],
  encryptionKey: true,
};

function synth(props: SluiceStackProps, withSaga = false) {
  return synthWithNag(
    (app) => {
      const stack = new SluiceStack(app, 'Sluice', props);
      if (withSaga) new OrderSagaExample(stack, 'OrderSaga', { sluice: stack, removalPolicy: RemovalPolicy.DESTROY });
      return stack;
    },
    { bundle: false },
  );
}

function functionsByName(template: Template): Record<string, Resource> {
  const out: Record<string, Resource> = {};
  for (const fn of Object.values(template.findResources('AWS::Lambda::Function')) as Resource[]) {
    const name = /^Sluice (\w+) handler$/.exec(fn.Properties.Description ?? '')?.[1];
    if (name !== undefined) out[name] = fn;
  }
  return out;
}

const onlyId = (template: Template, type: string): string => {
  const ids = Object.keys(template.findResources(type));
  expect(ids.length, `one ${type}`).toBe(1);
  return ids[0]!;
};

describe('SluiceStack security settings', () => {
  let plain: Template;
  let plainStack: SluiceStack;
  let secure: Template;
  let secureStack: SluiceStack;
  beforeAll(() => {
    ({ template: plain, stack: plainStack } = synth({}));
    // cdk-nag clean (synth throws otherwise) with the key, JWT, ACLs and a saga.
    ({ template: secure, stack: secureStack } = synth(SECURE, true));
  });

  describe('authorization', () => {
    it('gives every HTTP function, and only those, the authorization settings', () => {
      const plainFns = functionsByName(plain);
      const secureFns = functionsByName(secure);
      for (const [name, fn] of Object.entries(plainFns)) {
        const env = fn.Properties.Environment.Variables as Record<string, unknown>;
        if (HTTP_FUNCTIONS.includes(name)) {
          expect(env[AUTHORIZATION_ENV.mode], name).toBe('open');
          expect(env[AUTHORIZATION_ENV.adminPrincipals], name).toBe('');
          expect(env[AUTHORIZATION_ENV.principalClaims], `${name}: no JWT claims under IAM auth`).toBe(undefined);
        } else {
          expect(Object.keys(env).filter((k) => Object.values(AUTHORIZATION_ENV).includes(k as never))).toEqual([]);
        }
      }
      expect(Object.keys(secureFns)).toContain('sagaTrigger');
      for (const name of HTTP_FUNCTIONS) {
        const env = secureFns[name]!.Properties.Environment.Variables as Record<string, unknown>;
        expect(env[AUTHORIZATION_ENV.mode], name).toBe('acl');
        expect(env[AUTHORIZATION_ENV.adminPrincipals], name).toBe('jwt:alice');
        expect(env[AUTHORIZATION_ENV.principalClaims], name).toBe('cognito:groups,scope');
      }
      const { template } = synth({
        auth: { ...JWT, principalClaims: ['groups'] },
        authorization: 'acl',
        adminPrincipals: ['jwt:alice', 'jwt:ops-team'],
      });
      const env = functionsByName(template).produce!.Properties.Environment.Variables as Record<string, unknown>;
      expect(env[AUTHORIZATION_ENV.principalClaims]).toBe('groups');
      expect(env[AUTHORIZATION_ENV.adminPrincipals]).toBe('jwt:alice,jwt:ops-team');
    });

    it('warns when open, and when ACLs have no super user', () => {
      Annotations.fromStack(plainStack).hasWarning(
        '*',
        Match.stringLikeRegexp('any authenticated caller may do anything'),
      );
      Annotations.fromStack(secureStack).hasNoWarning('*', Match.stringLikeRegexp('any authenticated caller'));
      const { stack } = synth({ authorization: 'acl' });
      Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('only ACL rules .* grant anything'));
    });

    it('rejects principals that are malformed or can never match, and bad claim names', () => {
      const make = (props: SluiceStackProps) => () =>
        new SluiceStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Checked', props);
      for (const bad of ['alice', 'jwt:', 'jwt:a,b', 'jwt:has space', 'iam:Admin', 'iam:arn:aws:s3:::bucket']) {
        expect(make({ auth: JWT, authorization: 'acl', adminPrincipals: [bad] }), bad).toThrow(/adminPrincipals/);
      }
      expect(make({ authorization: 'acl', adminPrincipals: ['jwt:alice'] })).toThrow(/never match.*IAM/);
      expect(
        make({ auth: JWT, authorization: 'acl', adminPrincipals: ['iam:arn:aws:iam::123456789012:role/A'] }),
      ).toThrow(/never match/);
      expect(make({ authorization: 'acl', adminPrincipals: ['iam:arn:aws:iam::123456789012:role/A'] })).not.toThrow();
      expect(make({ auth: JWT, authorization: 'acl', adminPrincipals: ['claim:cognito:groups=admins'] })).not.toThrow();
      expect(make({ authorization: 'acl', adminPrincipals: ['claim:cognito:groups=admins'] })).toThrow(/never match/);
      expect(make({ auth: JWT, authorization: 'acl', adminPrincipals: ['claim:noValue'] })).toThrow(/adminPrincipals/);
      expect(
        make({ authorization: 'acl', adminPrincipals: ['iam:arn:aws:sts::123456789012:assumed-role/Ops/jane'] }),
      ).not.toThrow();
      expect(make({ auth: { ...JWT, principalClaims: ['a,b'] } })).toThrow(/principalClaims/);
      expect(make({ authorization: 'everyone' as 'open' })).toThrow(/authorization/);
    });

    it('lets every HTTP function, and nothing else, read the ACL partition when authorization is acl', () => {
      const aclReaders = (template: Template) =>
        Object.entries(statementsByFunction(template))
          .filter(([, statements]) =>
            statements.some(
              (s) =>
                JSON.stringify(s.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']) === '["acl"]' &&
                JSON.stringify(actionsOf(s)) === '["dynamodb:Query"]' &&
                JSON.stringify(s.Resource).includes('MetadataTable'),
            ),
          )
          .map(([name]) => name)
          .sort();
      expect(aclReaders(secure)).toStrictEqual(HTTP_FUNCTIONS);
      expect(aclReaders(plain), 'open: nobody reads ACLs').toStrictEqual([]);
    });
  });

  describe('scopes', () => {
    const routesOf = (template: Template) => httpRoutes(template);

    it('require sluice/<scope> of each route from JWT callers', () => {
      const routes = routesOf(secure);
      expect(routes.length).toBe(ROUTES.length);
      for (const route of ROUTES) {
        const found = routes.find((r) => r.Properties.RouteKey === routeKey(route));
        assert(found !== undefined, routeKey(route));
        expect(found.Properties.AuthorizationType).toBe('JWT');
        expect(found.Properties.AuthorizationScopes, routeKey(route)).toStrictEqual([`sluice/${route.scope}`]);
      }
    });

    it('are none for IAM callers, nor for JWT callers when turned off', () => {
      for (const r of routesOf(plain)) expect(r.Properties.AuthorizationScopes, r.Properties.RouteKey).toBe(undefined);
      const { template } = synth({ auth: { ...JWT, requireScopes: false } });
      for (const r of routesOf(template)) expect(r.Properties.AuthorizationScopes).toBe(undefined);
    });
  });

  describe('access logs', () => {
    const formatOf = (template: Template) => {
      const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0] as Resource;
      return JSON.parse(stage.Properties.AccessLogSettings.Format as string) as Record<string, string>;
    };

    it('name the IAM caller (user ARN, account) or the JWT subject, in JSON', () => {
      expect(formatOf(plain)).toMatchObject({
        requestId: '$context.requestId',
        routeKey: '$context.routeKey',
        status: '$context.status',
        userArn: '$context.identity.userArn',
        accountId: '$context.identity.accountId',
        caller: '$context.identity.caller',
        authorizerError: '$context.authorizer.error',
      });
      const jwt = formatOf(secure);
      expect(jwt).toMatchObject({
        sub: '$context.authorizer.claims.sub',
        authorizerError: '$context.authorizer.error',
      });
      expect(jwt.userArn, 'no IAM fields on JWT routes').toBe(undefined);
    });
  });

  describe('customer managed key', () => {
    let keyArn: unknown;
    beforeAll(() => {
      keyArn = { 'Fn::GetAtt': [onlyId(secure, 'AWS::KMS::Key'), 'Arn'] };
    });

    it('is created with rotation, and its policy lets CloudWatch Logs use it for this account and region only', () => {
      secure.hasResourceProperties('AWS::KMS::Key', {
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
              Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': Match.anyValue() } },
            }),
          ]),
        },
      });
      expect(plain.findResources('AWS::KMS::Key'), 'none unless asked for').toStrictEqual({});
    });

    it('encrypts both tables, the segment bucket (with a bucket key), every log group and both queues', () => {
      const tables = Object.values(secure.findResources('AWS::DynamoDB::Table')) as Resource[];
      const sluiceTables = tables.filter((t) => t.Properties.TimeToLiveSpecification !== undefined);
      expect(sluiceTables.length).toBe(2);
      for (const t of sluiceTables) {
        expect(t.Properties.SSESpecification).toStrictEqual({
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: keyArn,
        });
      }
      secure.hasResourceProperties('AWS::S3::Bucket', {
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [
            {
              BucketKeyEnabled: true,
              ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
            },
          ],
        },
      });
      const logGroups = Object.values(secure.findResources('AWS::Logs::LogGroup')) as Resource[];
      // A log group per function (the saga's steps too), the API's access logs, the saga's executions.
      expect(logGroups.length).toBeGreaterThan(12);
      for (const g of logGroups) expect(g.Properties.KmsKeyId).toStrictEqual(keyArn);
      const queues = Object.values(secure.findResources('AWS::SQS::Queue')) as Resource[];
      expect(queues.length).toBe(2);
      for (const q of queues) {
        expect(q.Properties.KmsMasterKeyId).toStrictEqual(keyArn);
        expect(q.Properties.SqsManagedSseEnabled).toBe(undefined);
      }
    });

    it('grants each function only the KMS actions its uses need, on that key only', () => {
      const expected: Record<string, string[]> = {
        topics: ['kms:Decrypt'],
        produce: ['kms:Decrypt', 'kms:GenerateDataKey'], // claim checks: PutObject
        fetch: ['kms:Decrypt'],
        groups: ['kms:Decrypt'],
        tiering: ['kms:Decrypt', 'kms:GenerateDataKey'], // segments: PutObject
        sagas: ['kms:Decrypt'],
        acls: ['kms:Decrypt'],
        queues: ['kms:Decrypt', 'kms:GenerateDataKey'], // dead letters: claim checks (PutObject)
        exchanges: ['kms:Decrypt', 'kms:GenerateDataKey'], // publishes: claim checks, as produce
        eventStore: ['kms:Decrypt', 'kms:GenerateDataKey'], // appends: claim checks, as produce
        jobs: ['kms:Decrypt'],
        lagReporter: ['kms:Decrypt'],
        roller: ['kms:Decrypt', 'kms:GenerateDataKey'], // SendMessage
        rollWorker: ['kms:Decrypt', 'kms:GenerateDataKey'],
        sagaAudit: ['kms:Decrypt'],
        sagaTrigger: ['kms:Decrypt'], // rung by the dispatcher: it reads no stream
        websocket: ['kms:Decrypt'],
        subscriptions: ['kms:Decrypt', 'kms:GenerateDataKey'], // a skip's dead letters: claim checks
        transactions: ['kms:Decrypt', 'kms:GenerateDataKey'], // claim checks, as produce
        // The tables and the stream (CDK's stream grant adds DescribeKey, which reads key metadata
        // only); dead letters: claim checks.
        subscriptionDispatcher: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'],
      };
      const byFunction = statementsByFunction(secure);
      expect(Object.keys(byFunction).sort()).toStrictEqual(Object.keys(expected).sort());
      for (const [name, statements] of Object.entries(byFunction)) {
        const kms = statements.filter((s: Statement) => actionsOf(s).some((a) => a.startsWith('kms:')));
        for (const s of kms) {
          expect(s.Resource, `${name}: the key only`).toStrictEqual(keyArn);
          expect(
            actionsOf(s).every((a) => a.startsWith('kms:')),
            name,
          ).toBe(true);
        }
        expect([...new Set(kms.flatMap(actionsOf))].sort(), name).toStrictEqual(expected[name]);
      }
      for (const [name, statements] of Object.entries(statementsByFunction(plain))) {
        expect(
          statements.flatMap(actionsOf).filter((a) => a.startsWith('kms:')),
          name,
        ).toStrictEqual([]);
      }
    });

    it('takes a key from elsewhere, and warns that its policy must let CloudWatch Logs use it', () => {
      const { template, stack } = synthWithNag(
        (app) => {
          const keys = new Stack(app, 'Keys');
          new CfnWaitConditionHandle(keys, 'Placeholder'); // a stack needs a resource
          const arn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
          return new SluiceStack(app, 'Sluice', { encryptionKey: Key.fromKeyArn(keys, 'Imported', arn) });
        },
        { bundle: false },
      );
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        SSESpecification: {
          SSEType: 'KMS',
          KMSMasterKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        },
      });
      Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('key policy cannot be changed here'));
    });
  });

  describe('least privilege', () => {
    it("limits produce's metadata writes to sequencers (UpdateItem) and producer states (PutItem)", () => {
      const statements = statementsByFunction(plain).produce!.filter((s) =>
        JSON.stringify(s.Resource).includes('MetadataTable'),
      );
      const unconditioned = statements.filter((s) => s.Condition === undefined);
      expect(unconditioned.flatMap(actionsOf).sort(), 'reads anywhere').toStrictEqual([
        'dynamodb:GetItem',
        'dynamodb:Query',
      ]);
      const writes = statements
        .filter((s) => s.Condition !== undefined)
        .map((s) => ({
          actions: actionsOf(s),
          keys: s.Condition!['ForAllValues:StringLike']!['dynamodb:LeadingKeys'],
        }));
      expect(writes).toStrictEqual([
        { actions: ['dynamodb:UpdateItem'], keys: ['log#*'] },
        { actions: ['dynamodb:PutItem'], keys: ['producer#*'] },
      ]);
    });

    it('limits what read_committed readers write to transaction items (aborting one past its timeout)', () => {
      const byFunction = statementsByFunction(plain);
      for (const name of ['fetch', 'groups', 'queues', 'subscriptionDispatcher', 'rollWorker', 'topics']) {
        const keyed = byFunction[name]!.filter(
          (s) => JSON.stringify(s.Resource).includes('MetadataTable') && s.Condition !== undefined,
        ).map((s) => ({
          actions: actionsOf(s),
          keys: s.Condition!['ForAllValues:StringLike']!['dynamodb:LeadingKeys'],
        }));
        expect(keyed, name).toContainEqual({
          actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem'],
          keys: ['txn#*'],
        });
      }
      const fetchUnconditioned = byFunction
        .fetch!.filter((s) => JSON.stringify(s.Resource).includes('MetadataTable') && s.Condition === undefined)
        .flatMap(actionsOf);
      expect([...new Set(fetchUnconditioned)].sort(), 'fetch reads anywhere, writes nowhere else').toStrictEqual([
        'dynamodb:GetItem',
        'dynamodb:Query',
      ]);
    });

    it('limits the jobs function to reading job items, the job registry, topic items and partition states', () => {
      const statements = statementsByFunction(plain).jobs!.filter((s) =>
        JSON.stringify(s.Resource).includes('MetadataTable'),
      );
      expect(
        statements.filter((s) => s.Condition === undefined),
        'nothing on any item',
      ).toStrictEqual([]);
      expect(
        statements.map((s) => ({
          actions: actionsOf(s),
          keys: s.Condition!['ForAllValues:StringLike']!['dynamodb:LeadingKeys'],
        })),
      ).toStrictEqual([
        { actions: ['dynamodb:GetItem'], keys: ['job#*', 'topic', 'log#*'] },
        { actions: ['dynamodb:Query'], keys: ['jobs'] },
      ]);
    });

    it("limits exchanges' metadata writes to exchange items, and what appends write", () => {
      const statements = statementsByFunction(plain).exchanges!.filter((s) =>
        JSON.stringify(s.Resource).includes('MetadataTable'),
      );
      const unconditioned = statements.filter((s) => s.Condition === undefined);
      expect(unconditioned.flatMap(actionsOf).sort(), 'reads anywhere').toStrictEqual([
        'dynamodb:GetItem',
        'dynamodb:Query',
      ]);
      const writes = statements
        .filter((s) => s.Condition !== undefined)
        .map((s) => ({
          actions: actionsOf(s).sort(),
          keys: s.Condition!['ForAllValues:StringLike']!['dynamodb:LeadingKeys'],
        }));
      expect(writes).toStrictEqual([
        { actions: ['dynamodb:UpdateItem'], keys: ['log#*'] },
        { actions: ['dynamodb:PutItem'], keys: ['producer#*'] },
        {
          actions: [
            'dynamodb:BatchWriteItem',
            'dynamodb:ConditionCheckItem',
            'dynamodb:DeleteItem',
            'dynamodb:PutItem',
            'dynamodb:UpdateItem',
          ],
          keys: ['exchange', 'exchange#*'],
        },
      ]);
    });
  });
});
