import { beforeAll, describe, expect, it } from 'vitest';
import { App, Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { FraudDetectionExample } from '../../examples/streams/fraudDetectionStack.ts';
import { STREAM_JOB_METADATA, StreamProcessor } from '../../infra/streams/streamProcessor.ts';
import { SluiceStack } from '../../infra/sluiceStack.ts';
import { actionsOf, synthWithNag, type Resource, type Statement } from './synthWithNag.ts';

/** The fraud example's processor, in a stack with a customer managed key (cdk-nag clean: synth throws otherwise). */
function synth(configure: (stack: SluiceStack) => void = () => {}) {
  return synthWithNag(
    (app) => {
      const stack = new SluiceStack(app, 'Sluice', { encryptionKey: true });
      new FraudDetectionExample(stack, 'FraudDetection', { sluice: stack });
      configure(stack);
      return stack;
    },
    { bundle: false },
  ).template;
}

function functionByDescription(template: Template, description: string): [string, Resource] {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).find(
    ([, f]) => (f as Resource).Properties.Description === description,
  );
  expect(found, description).toBeTruthy();
  return found as [string, Resource];
}

function statementsOf(template: Template, fn: Resource): Statement[] {
  const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
  return (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

describe('StreamProcessor (the fraud-detection example)', () => {
  let template: Template;
  let id: string;
  let fn: Resource;
  beforeAll(() => {
    template = synth();
    [id, fn] = functionByDescription(template, 'Sluice stream job fraud-detector');
  });

  it('deploys the job’s module as one function with reserved concurrency 1, named for the local stack', () => {
    expect(fn.Metadata!['sluice:entry']).toStrictEqual({
      path: 'examples/streams/fraudDetectionJob.ts',
      export: 'handler',
    });
    expect(fn.Metadata![STREAM_JOB_METADATA]).toStrictEqual({ name: 'fraud-detector', source: 'transactions' });
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(1);
    expect(fn.Properties.Timeout).toBe(60);
    const env = fn.Properties.Environment.Variables as Record<string, unknown>;
    expect(env.SLUICE_STREAM_JOB).toBe('fraud-detector');
    for (const name of ['SLUICE_LOG_TABLE', 'SLUICE_METADATA_TABLE', 'SLUICE_SEGMENT_BUCKET'])
      expect(env[name], name).toBeTruthy();
  });

  it('is rung by the dispatcher for appends to its source only, and runs every minute; it reads no stream itself', () => {
    const [, dispatcher] = functionByDescription(template, 'Sluice subscriptionDispatcher handler');
    const parts = dispatcher.Properties.Environment.Variables.SLUICE_RING_ON_APPEND['Fn::Join'][1] as unknown[];
    const at = parts.findIndex((p) => JSON.stringify(p) === JSON.stringify({ Ref: id }));
    expect(at, 'in the dispatcher’s ring list').toBeGreaterThan(0);
    expect(parts[at + 1]).toMatch(/^","topics":\["transactions"\]}/);
    const invokes = statementsOf(template, dispatcher).filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    expect(JSON.stringify(invokes.map((s) => s.Resource))).toContain(id);
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')) as Resource[];
    expect(mappings.filter((m) => JSON.stringify(m.Properties.FunctionName).includes(id))).toStrictEqual([]);
    const rules = (Object.values(template.findResources('AWS::Events::Rule')) as Resource[]).filter((r) =>
      JSON.stringify(r.Properties.Targets).includes(id),
    );
    expect(rules.map((r) => r.Properties.ScheduleExpression)).toStrictEqual(['rate(1 minute)']);
  });

  it('may write only its own job’s state items, and decrypt with the stack’s key', () => {
    const statements = statementsOf(template, fn);
    const keyed = statements.filter((s) => s.Condition?.['ForAllValues:StringLike'] !== undefined);
    const byKeys = Object.fromEntries(
      keyed.map((s) => [
        JSON.stringify(s.Condition!['ForAllValues:StringLike']!['dynamodb:LeadingKeys']),
        actionsOf(s).sort(),
      ]),
    );
    expect(byKeys).toStrictEqual({
      '["log#*"]': ['dynamodb:UpdateItem'],
      '["txn#*"]': ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
      '["job#fraud-detector","jobs"]': ['dynamodb:PutItem'],
      '["job#fraud-detector"]': ['dynamodb:DeleteItem'],
    });
    const kms = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')));
    expect(kms.flatMap(actionsOf).sort()).toStrictEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
  });

  it('grants a table sink its writes, takes a schedule or none, and checks its props', () => {
    const withSink = synth((stack) => {
      const sink = new Table(stack, 'Alerts', {
        partitionKey: { name: 'pk', type: AttributeType.STRING },
        billingMode: BillingMode.PAY_PER_REQUEST,
        encryption: TableEncryption.AWS_MANAGED,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      new StreamProcessor(stack, 'Totals', {
        sluice: stack,
        entry: 'examples/streams/fraudDetectionJob.ts',
        name: 'totals',
        source: 'payments',
        tables: { 'totals-table': sink },
        schedule: null,
      });
      new StreamProcessor(stack, 'Sessions', {
        sluice: stack,
        entry: 'examples/streams/fraudDetectionJob.ts',
        name: 'sessions',
        source: 'clicks',
        schedule: Duration.minutes(5),
      });
    });
    const [totalsId, totals] = functionByDescription(withSink, 'Sluice stream job totals');
    const onSink = statementsOf(withSink, totals).filter((s) => JSON.stringify(s.Resource).includes('Alerts'));
    // The sink's one write (an upsert, in the step's transaction), and its table's name for the handler.
    expect(onSink.flatMap(actionsOf).sort()).toStrictEqual(['dynamodb:PutItem']);
    expect(JSON.stringify(totals.Properties.Environment.Variables.SLUICE_SINK_TABLE_TOTALS_TABLE)).toMatch(/Alerts/);
    const targets = (target: string) =>
      (Object.values(withSink.findResources('AWS::Events::Rule')) as Resource[])
        .filter((r) => JSON.stringify(r.Properties.Targets).includes(target))
        .map((r) => r.Properties.ScheduleExpression);
    expect(targets(totalsId)).toStrictEqual([]);
    expect(targets(functionByDescription(withSink, 'Sluice stream job sessions')[0])).toStrictEqual([
      'rate(5 minutes)',
    ]);

    const make = (props: Partial<ConstructorParameters<typeof StreamProcessor>[2]>) => () => {
      const stack = new SluiceStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Checked');
      new StreamProcessor(stack, 'Job', {
        sluice: stack,
        entry: 'examples/streams/fraudDetectionJob.ts',
        name: 'job',
        source: 'in',
        ...props,
      });
    };
    expect(make({ name: 'has space' })).toThrow(/name/);
    expect(make({ source: 'bad topic!' })).toThrow();
    expect(make({ timeout: Duration.seconds(5) })).toThrow(/timeout/);
    expect(make({ memorySize: 64 })).toThrow(/memorySize/);
    expect(make({})).not.toThrow();
    // The dispatcher's ring list must fit its environment (4 KB for all its variables).
    expect(() => {
      const stack = new SluiceStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Many');
      for (let i = 0; i < 20; i++)
        new StreamProcessor(stack, `Job${i}`, {
          sluice: stack,
          entry: 'examples/streams/fraudDetectionJob.ts',
          name: `job-${i}`,
          source: `topic-${i}`,
        });
    }).toThrow(/Too many functions rung on appends/);
  });
});
