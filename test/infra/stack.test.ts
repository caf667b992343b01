import { readFileSync } from 'node:fs';
import { assert, beforeAll, describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { TIME_INDEX } from '../../core/schema.ts';
import { ROUTES, routeKey } from '../../functions/http/routes.ts';
import { StreamProcessor } from '../../infra/streams/streamProcessor.ts';
import { SluiceStack } from '../../infra/sluiceStack.ts';
import { httpRoutes, synthWithNag as synthStack, type Resource } from './synthWithNag.ts';

/** Synthesizes the stack (bundling its functions) with cdk-nag's AwsSolutions pack. */
function synthWithNag(configure: (app: App) => SluiceStack): Template {
  return synthStack(configure).template;
}

/**
 * The expected DynamoDB actions per function and table, the least each one needs, and whether it
 * reads the tables' time indexes (offset look-ups by timestamp).
 */
const EXPECTED_ACCESS: Record<
  string,
  { log: string[]; metadata: string[]; segments: string[]; claims: string[]; timeIndex?: true }
> = {
  topics: {
    log: ['dynamodb:Query'],
    metadata: [
      'dynamodb:BatchGetItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ],
    segments: [],
    claims: [],
  },
  produce: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    segments: ['s3:GetObject', 's3:ListBucket'],
    claims: ['s3:PutObject'],
  },
  fetch: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    // Outcomes of transactions met by read_committed reads, and aborting one past its timeout (txn# keys only).
    metadata: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
    segments: ['s3:GetObject', 's3:ListBucket'],
    claims: ['s3:GetObject'],
    timeIndex: true,
  },
  // WebSocket doorbells (infra/subscriptions/watchApi.ts): connection and watch items; topics by name.
  websocket: {
    log: [],
    metadata: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    segments: [],
    claims: [],
  },
  lagReporter: {
    log: ['dynamodb:Query'],
    metadata: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
    segments: [],
    claims: [],
  },
  groups: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: [
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ],
    segments: ['s3:GetObject', 's3:ListBucket'],
    claims: ['s3:GetObject'],
    timeIndex: true,
  },
  roller: {
    log: [],
    metadata: ['dynamodb:Query'],
    segments: [],
    claims: [],
  },
  rollWorker: {
    log: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    metadata: [
      'dynamodb:BatchGetItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
    ],
    segments: ['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject'],
    claims: ['s3:DeleteObject', 's3:GetObject'],
  },
  tiering: {
    log: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    metadata: [
      'dynamodb:BatchGetItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
    ],
    segments: ['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject'],
    claims: ['s3:DeleteObject', 's3:GetObject'],
  },
  sagas: {
    log: [],
    metadata: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    segments: [],
    claims: [],
  },
  queues: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: [
      'dynamodb:BatchGetItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ],
    segments: ['s3:GetObject', 's3:ListBucket'],
    claims: ['s3:GetObject', 's3:PutObject'],
  },
  // The event store: one transaction per append (batch, stream head, index entry), its topic on first use.
  eventStore: {
    log: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
    metadata: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    segments: ['s3:GetObject', 's3:ListBucket'],
    claims: ['s3:GetObject', 's3:PutObject'],
  },
  // Stream jobs, read only: state items and the registry; the source's topic, partition states and last batches.
  jobs: {
    log: ['dynamodb:Query'],
    metadata: ['dynamodb:GetItem', 'dynamodb:Query'],
    segments: [],
    claims: [],
  },
  acls: {
    log: [],
    metadata: ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    segments: [],
    claims: [],
  },
  exchanges: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: [
      'dynamodb:BatchWriteItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ],
    segments: ['s3:GetObject', 's3:ListBucket'],
    claims: ['s3:PutObject'],
  },
  transactions: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: [
      'dynamodb:BatchGetItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ],
    segments: ['s3:GetObject', 's3:ListBucket'],
    claims: ['s3:PutObject'],
  },
  subscriptions: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: [
      'dynamodb:BatchWriteItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ],
    segments: ['s3:GetObject', 's3:ListBucket'],
    claims: ['s3:GetObject', 's3:PutObject'],
  },
  subscriptionDispatcher: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: [
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ],
    segments: ['s3:GetObject', 's3:ListBucket'],
    claims: ['s3:GetObject', 's3:PutObject'],
  },
  sagaAudit: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
    segments: [],
    claims: [],
  },
  // A StreamProcessor's function (infra/streams/streamProcessor.ts): reads its source read_committed,
  // commits a step's outputs and its state in one transaction (PutItem on job#<name> and jobs only).
  streamProcessor: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: [
      'dynamodb:BatchGetItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ],
    segments: ['s3:GetObject', 's3:ListBucket'],
    claims: ['s3:GetObject', 's3:PutObject'],
  },
};

/**
 * Checks every function's rights against EXPECTED_ACCESS (the function's name from its
 * description, by `nameOf`): its own role, no managed policies, no wildcard but X-Ray, and
 * exactly the expected actions per table, index and object prefix. Returns the names seen.
 */
function expectExactAccess(template: Template, nameOf: (description: string) => string | undefined): Set<string> {
  const roles = template.findResources('AWS::IAM::Role');
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  const tables = template.findResources('AWS::DynamoDB::Table');
  const tableKind = (logicalId: string): 'log' | 'metadata' =>
    (tables[logicalId] as Resource).Properties.StreamSpecification ? 'log' : 'metadata';
  const functions = template.findResources('AWS::Lambda::Function');
  const hasExpressBucket = Object.keys(template.findResources('AWS::S3Express::DirectoryBucket')).length > 0;
  const seen = new Set<string>();
  for (const fn of Object.values(functions) as Resource[]) {
    const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
    expect(roles[roleId], 'each function has its own role').toBeTruthy();
    expect(roles[roleId]!.Properties.ManagedPolicyArns, 'no managed policies').toBe(undefined);
    const fnName = nameOf(fn.Properties.Description ?? '');
    assert(fnName !== undefined && fnName in EXPECTED_ACCESS, `unexpected function ${fn.Properties.Description}`);
    seen.add(fnName);
    const statements = policies
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const dynamo: Record<string, Set<string>> = { log: new Set(), metadata: new Set() };
    const indexes = new Set<string>();
    const s3: Record<'segments' | 'claims' | 'batches', Set<string>> = {
      segments: new Set(),
      claims: new Set(),
      batches: new Set(),
    };
    let expressSessions = false;
    for (const s of statements) {
      const actions = ([] as string[]).concat(s.Action);
      if (actions.some((a) => a.startsWith('s3express:'))) {
        expect(actions, `${fnName}: sessions on the directory bucket, nothing else`).toStrictEqual([
          's3express:CreateSession',
        ]);
        expect(JSON.stringify(s.Resource)).toMatch(/^\{"Fn::GetAtt":\["ExpressBucket","Arn"\]\}$/);
        expressSessions = true;
        continue;
      }
      expect(
        !actions.some((a) => a === '*' || a.endsWith(':*')),
        `wildcard action in ${JSON.stringify(s.Action)}`,
      ).toBeTruthy();
      // The stream consumer reads the log table's stream (ListStreams takes no resource).
      if (
        fnName === 'subscriptionDispatcher' &&
        actions.every((a) => a.includes('Stream') || a === 'dynamodb:GetRecords' || a === 'dynamodb:GetShardIterator')
      ) {
        if (s.Resource !== '*') expect(JSON.stringify(s.Resource)).toMatch(/LogTable\w*","StreamArn"/);
        continue;
      }
      if (s.Resource === '*') {
        expect(actions.sort(), 'only X-Ray may use Resource *').toStrictEqual([
          'xray:PutTelemetryRecords',
          'xray:PutTraceSegments',
        ]);
        continue;
      }
      if (actions[0]!.startsWith('s3:')) {
        const resource = JSON.stringify(s.Resource);
        if (actions.includes('s3:ListBucket')) {
          expect(actions).toStrictEqual(['s3:ListBucket']);
          expect(resource, 'listing only on the segment bucket').toMatch(
            /^\{"Fn::GetAtt":\["SegmentBucket\w*","Arn"\]\}$/,
          );
          expect((s as { Condition?: unknown }).Condition, 'listing only under our prefixes').toStrictEqual({
            StringLike: { 's3:prefix': ['segments/*', 'claims/*', 'batches/*'] },
          });
          s3.segments.add('s3:ListBucket');
          continue;
        }
        const prefix = /SegmentBucket\w*","Arn"\]},"\/(segments|claims|batches)\/\*"/.exec(resource)?.[1] as
          'segments' | 'claims' | 'batches' | undefined;
        assert(prefix !== undefined, `S3 access only to objects under segments/, claims/ or batches/: ${resource}`);
        actions.forEach((a) => s3[prefix].add(a));
        continue;
      }
      if (!actions[0]!.startsWith('dynamodb:')) continue;
      const resources = ([] as unknown[]).concat(s.Resource);
      for (const r of resources) {
        const id = JSON.stringify(r).match(/"(\w*Table\w*)"/)?.[1];
        assert(id && tables[id], `dynamodb grant on something other than a table: ${JSON.stringify(r)}`);
        const index = /"\/index\/([^"]*)"/.exec(JSON.stringify(r))?.[1];
        if (index === undefined) actions.forEach((a) => dynamo[tableKind(id)]!.add(a));
        else {
          expect(actions, `${fnName} on an index: reading it only`).toStrictEqual(['dynamodb:Query']);
          indexes.add(`${tableKind(id)}/${index}`);
        }
      }
    }
    expect([...dynamo.log!].sort(), `${fnName} on the log table`).toStrictEqual(EXPECTED_ACCESS[fnName]!.log);
    expect([...dynamo.metadata!].sort(), `${fnName} on the metadata table`).toStrictEqual(
      EXPECTED_ACCESS[fnName]!.metadata,
    );
    expect([...indexes].sort(), `${fnName} on indexes`).toStrictEqual(
      EXPECTED_ACCESS[fnName]!.timeIndex ? [`log/${TIME_INDEX.name}`, `metadata/${TIME_INDEX.name}`] : [],
    );
    expect([...s3.segments].sort(), `${fnName} on segment objects`).toStrictEqual(EXPECTED_ACCESS[fnName]!.segments);
    expect([...s3.claims].sort(), `${fnName} on claim-check objects`).toStrictEqual(EXPECTED_ACCESS[fnName]!.claims);
    // Batch objects (storage: "s3" topics) hold record bytes: written by who writes records (claim
    // checks), read by who reads records, deleted by who deletes claim checks (the roller).
    const { segments, claims } = EXPECTED_ACCESS[fnName]!;
    const batchRights = [
      ...(claims.includes('s3:DeleteObject') ? ['s3:DeleteObject'] : []),
      ...(segments.includes('s3:GetObject') || claims.includes('s3:GetObject') ? ['s3:GetObject'] : []),
      ...(claims.includes('s3:PutObject') ? ['s3:PutObject'] : []),
    ];
    expect([...s3.batches].sort(), `${fnName} on batch objects`).toStrictEqual(batchRights);
    // With a directory bucket (`expressZone`), who has a right on batch objects opens sessions on it.
    expect(expressSessions, `${fnName} on the directory bucket`).toBe(hasExpressBucket && batchRights.length > 0);
  }
  return seen;
}

describe('SluiceStack', () => {
  let template: Template;
  beforeAll(() => {
    template = synthWithNag((app) => new SluiceStack(app, 'Sluice'));
  });

  it('is cdk-nag (AwsSolutions) clean, and the check does fail on a finding', () => {
    // Reaching here means synth passed the AwsSolutions pack. Now prove the check can fail:
    expect(() =>
      synthWithNag((app) => {
        const stack = new SluiceStack(app, 'WithNakedBucket');
        new Bucket(stack, 'NakedBucket');
        return stack;
      }),
    ).toThrow(/AwsSolutions-S1'/);
  });

  it('keeps the log in an on-demand, encrypted table with PITR and a keys-only stream', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([{ AttributeName: 'sk', AttributeType: 'N' }]),
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      // A doorbell for the saga trigger, which reads records through its consumer group: no record data.
      StreamSpecification: { StreamViewType: 'KEYS_ONLY' },
      TimeToLiveSpecification: { AttributeName: 'x', Enabled: true },
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([{ AttributeName: 'sk', AttributeType: 'S' }]),
      TimeToLiveSpecification: { AttributeName: 'x', Enabled: true },
    });
    const tables = Object.values(template.findResources('AWS::DynamoDB::Table')) as Resource[];
    expect(tables.length).toBe(2);
    for (const t of tables) {
      expect(t.Properties.SSESpecification).toStrictEqual({ SSEEnabled: true });
      expect(t.Properties.PointInTimeRecoverySpecification).toStrictEqual({ PointInTimeRecoveryEnabled: true });
      // The time index (offsets by timestamp), sparse and keys only, named and keyed from core/schema.ts.
      expect(t.Properties.GlobalSecondaryIndexes).toStrictEqual([
        {
          IndexName: TIME_INDEX.name,
          KeySchema: [
            { AttributeName: TIME_INDEX.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: TIME_INDEX.sortKey.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ]);
      expect(t.Properties.AttributeDefinitions).toContainEqual({
        AttributeName: TIME_INDEX.sortKey.name,
        AttributeType: 'S',
      });
    }
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
  });

  it('keeps segments in an encrypted, private, TLS-only bucket that aborts stale uploads', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })]),
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('runs each function on Node.js 22, arm64, traced, with Powertools from its layer and retained logs', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];
    expect(functions.length).toBe(19);
    for (const fn of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Architectures).toStrictEqual(['arm64']);
      expect(fn.Properties.TracingConfig).toStrictEqual({ Mode: 'Active' });
      expect(JSON.stringify(fn.Properties.Layers)).toMatch(/AWSLambdaPowertoolsTypeScriptV2/);
      expect(fn.Properties.Environment.Variables.SLUICE_LOG_TABLE).toBeTruthy();
      expect(fn.Properties.Environment.Variables.SLUICE_METADATA_TABLE).toBeTruthy();
      // Traces may record neither responses nor errors: both can carry record data or AWS messages.
      expect(fn.Properties.Environment.Variables.POWERTOOLS_TRACER_CAPTURE_RESPONSE).toBe('false');
      expect(fn.Properties.Environment.Variables.POWERTOOLS_TRACER_CAPTURE_ERROR).toBe('false');
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('grants each function exactly the DynamoDB actions it needs, on its tables only (the time indexes only to those that look offsets up by timestamp), and no wildcard but X-Ray', () => {
    const seen = expectExactAccess(template, (d) => /^Sluice (\w+) handler$/.exec(d)?.[1]);
    expect([...seen].sort()).toStrictEqual([
      'acls',
      'eventStore',
      'exchanges',
      'fetch',
      'groups',
      'jobs',
      'lagReporter',
      'produce',
      'queues',
      'rollWorker',
      'roller',
      'sagaAudit',
      'sagas',
      'subscriptionDispatcher',
      'subscriptions',
      'tiering',
      'topics',
      'transactions',
      'websocket',
    ]);
  });

  it('keeps s3-express topics’ record bytes in a directory bucket of the given zone, when asked, with sessions only for who has batch rights', () => {
    const { template: express } = synthStack(
      (app) => new SluiceStack(app, 'Express', { expressZone: 'use1-az4', namePrefix: 'fast', encryptionKey: true }),
      { bundle: false },
    );
    express.hasResourceProperties('AWS::S3Express::DirectoryBucket', {
      DataRedundancy: 'SingleAvailabilityZone',
      LocationName: 'use1-az4',
      BucketName: 'fast-batches--use1-az4--x-s3',
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }),
          }),
        ],
      },
    });
    expect(
      JSON.stringify(express.findResources('AWS::S3Express::DirectoryBucket')),
      'no expiration: batches live as long as they are hot',
    ).not.toMatch(/ExpirationInDays/);
    const produce = Object.values(express.findResources('AWS::Lambda::Function')).find(
      (f) => (f as Resource).Properties.Description === 'Sluice produce handler',
    ) as Resource;
    expect(produce.Properties.Environment.Variables.SLUICE_EXPRESS_BUCKET).toStrictEqual({ Ref: 'ExpressBucket' });
    expectExactAccess(express, (d) => /^Sluice (\w+) handler$/.exec(d)?.[1]);
    express.hasOutput('ExpressBucketName', { Value: { Ref: 'ExpressBucket' } });
    expect(template.findResources('AWS::S3Express::DirectoryBucket'), 'none by default').toStrictEqual({});
    expect(() => new SluiceStack(new App(), 'BadZone', { expressZone: 'us-east-1a' })).toThrow(/Availability Zone ID/);
  });

  it('grants a StreamProcessor’s function exactly the stream job’s rights, and every other function what it had', () => {
    const { template: withJob } = synthStack(
      (app) => {
        const stack = new SluiceStack(app, 'WithJob');
        // No table sink here: a sink's table grant is the construct's test (test/infra/streamProcessor.test.ts).
        new StreamProcessor(stack, 'Job', {
          sluice: stack,
          entry: 'examples/streams/fraudDetectionJob.ts',
          name: 'fraud-detector',
          source: 'transactions',
        });
        return stack;
      },
      { bundle: false },
    );
    const seen = expectExactAccess(withJob, (d) =>
      d.startsWith('Sluice stream job ') ? 'streamProcessor' : /^Sluice (\w+) handler$/.exec(d)?.[1],
    );
    expect(seen.has('streamProcessor')).toBe(true);
  });

  it('delivers subscriptions from the log stream (INSERTs) and a schedule, with reserved concurrency, invoking only granted targets', () => {
    const functions = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: 'Sluice subscriptionDispatcher handler' },
    });
    const [[id, fn]] = Object.entries(functions) as [[string, Resource]];
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(5);
    expect(
      Object.keys(
        template.findResources('AWS::Lambda::EventSourceMapping', {
          Properties: { EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('LogTable'), 'StreamArn'] } },
        }),
      ),
      'the log stream has one consumer',
    ).toHaveLength(1);
    expect(fn.Properties.Timeout).toBe(60);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id },
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('LogTable'), 'StreamArn'] },
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'] }) }] },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SubscriptionQuarantinedKeys',
      Threshold: 0,
    });
    // Without targets added, the dispatcher may invoke no function at all.
    const invokes = JSON.stringify(template.findResources('AWS::IAM::Policy')).includes('lambda:InvokeFunction');
    expect(invokes).toBe(false);
  });

  it('serves every route behind IAM authorization, throttled, with access logs', () => {
    const routes = httpRoutes(template);
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toStrictEqual(ROUTES.map(routeKey).sort());
    for (const r of routes) expect(r.Properties.AuthorizationType, r.Properties.RouteKey).toBe('AWS_IAM');
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 2000 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
  });

  it('fans the roller out: one queued work unit per partition, a worker with partial-batch failures, a dead-letter queue and alarms', () => {
    const queues = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
    const [dlqId] = Object.keys(queues).filter((id) => id.startsWith('RollDeadLetters'));
    const [queueId] = Object.keys(queues).filter((id) => id.startsWith('RollQueue'));
    assert(dlqId !== undefined && queueId !== undefined);
    expect(queues[queueId]!.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 1800,
      RedrivePolicy: { maxReceiveCount: 3, deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const idOf = (handler: string) =>
      Object.keys(functions).find((id) => functions[id]!.Properties.Description === `Sluice ${handler} handler`)!;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
      FunctionName: { Ref: idOf('rollWorker') },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
    expect(functions[idOf('roller')]!.Properties.Environment.Variables.SLUICE_ROLL_QUEUE_URL).toStrictEqual({
      Ref: queueId,
    });
    expect(functions[idOf('rollWorker')]!.Properties.Timeout).toBe(300);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'RollerLagSeconds',
      Namespace: 'Sluice',
      Statistic: 'Maximum',
      Threshold: 7200,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }],
      Threshold: 0,
    });
  });

  it('lets a function of yours use the outbox (grantTransact): the transactions rights on Sluice’s tables, their names, nothing else', () => {
    // Checked without cdk-nag: the function stands for one of yours, not one of Sluice's.
    const stack = new SluiceStack(new App(), 'Outbox');
    const service = new LambdaFunction(stack, 'OrderService', {
      runtime: Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: Code.fromInline('exports.handler = async () => ({})'),
    });
    stack.grantTransact(service);
    const withService = Template.fromStack(stack);
    const fns = withService.findResources('AWS::Lambda::Function', {
      Properties: { Code: { ZipFile: Match.anyValue() } },
    });
    const [id, fn] = Object.entries(fns)[0]! as [string, Resource];
    expect(Object.keys(fn.Properties.Environment.Variables).sort()).toStrictEqual([
      'SLUICE_LOG_TABLE',
      'SLUICE_METADATA_TABLE',
    ]);
    const roleId = (fn.Properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    const policies = Object.values(withService.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify((p as Resource).Properties.Roles).includes(roleId),
    ) as Resource[];
    const statements = policies.flatMap(
      (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
    const on = (table: string) =>
      statements
        .filter((st) => JSON.stringify(st.Resource).includes(table))
        .flatMap((st) => ([] as string[]).concat(st.Action))
        .sort();
    expect(on('LogTable')).toStrictEqual(EXPECTED_ACCESS.transactions!.log);
    expect(on('MetadataTable')).toStrictEqual(EXPECTED_ACCESS.transactions!.metadata);
    expect(
      statements.every((st) => JSON.stringify(st.Resource).match(/LogTable|MetadataTable/)),
      id,
    ).toBe(true);
  });

  it('reports consumer lag every minute, with an alarm per configured group', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: Match.arrayWith([Match.objectLike({ Arn: Match.anyValue() })]),
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    const consumerLagAlarms = (t: typeof template) =>
      Object.values(t.findResources('AWS::CloudWatch::Alarm')).filter(
        (a) => (a as Resource).Properties.MetricName === 'ConsumerLag',
      );
    expect(consumerLagAlarms(template), 'none unless configured').toStrictEqual([]);
    const withAlarm = synthWithNag(
      (app) => new SluiceStack(app, 'Alarmed', { lagAlarms: [{ group: 'billing', topic: 'orders', threshold: 1000 }] }),
    );
    withAlarm.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ConsumerLag',
      Namespace: 'Sluice',
      Dimensions: Match.arrayWith([
        { Name: 'Group', Value: 'billing' },
        { Name: 'Topic', Value: 'orders' },
      ]),
      Threshold: 1000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(
      () =>
        new SluiceStack(new App(), 'BadAlarm', { lagAlarms: [{ group: 'bad group', topic: 'orders', threshold: 1 }] }),
    ).toThrow(/lagAlarms/);
  });

  it('outputs the API URL and the table and bucket names', () => {
    const outputs = template.toJSON().Outputs as Record<string, unknown>;
    for (const name of ['ApiUrl', 'LogTableName', 'MetadataTableName', 'SegmentBucketName'])
      expect(outputs[name], name).toBeTruthy();
  });

  it('matches docs/openapi.json route for route', () => {
    const doc = JSON.parse(readFileSync('docs/openapi.json', 'utf8')) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((k) => ['get', 'post', 'patch', 'put', 'delete'].includes(k))
        .map((m) => `${m.toUpperCase()} ${path}`),
    );
    const deployed = httpRoutes(template).map((r) => r.Properties.RouteKey as string);
    expect(documented.sort()).toStrictEqual(deployed.sort());
  });

  it('takes a JWT authorizer, names and a removal policy from props', () => {
    const jwt = synthWithNag(
      (app) =>
        new SluiceStack(app, 'Jwt', {
          auth: { type: 'jwt', issuer: 'https://issuer.example.com', audience: ['sluice'] },
          namePrefix: 'acme-dev',
          eventStore: { topic: 'bank.events', partitions: 4 },
        }),
    );
    // The event store's topic and partitions reach its function only.
    jwt.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Sluice eventStore handler',
      Environment: {
        Variables: Match.objectLike({ SLUICE_EVENT_STORE_TOPIC: 'bank.events', SLUICE_EVENT_STORE_PARTITIONS: '4' }),
      },
    });
    expect(JSON.stringify(jwt.toJSON()).match(/SLUICE_EVENT_STORE_TOPIC/g)).toHaveLength(1);
    expect(() => new SluiceStack(new App(), 'BadEvents', { eventStore: { topic: 'no/slash' } })).toThrow(/topic/i);
    expect(() => new SluiceStack(new App(), 'BadParts', { eventStore: { partitions: 0 } })).toThrow(/partitions/);
    for (const r of httpRoutes(jwt)) expect(r.Properties.AuthorizationType).toBe('JWT');
    jwt.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://issuer.example.com', Audience: ['sluice'] },
    });
    jwt.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'acme-dev-log' });
    jwt.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'acme-dev-produce' });
    expect(() => new SluiceStack(new App(), 'Bad', { namePrefix: 'Has Spaces' })).toThrow(/namePrefix/);
  });
});
