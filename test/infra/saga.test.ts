import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { App, Validations, type Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { orderSaga } from '../../examples/order-saga/saga.ts';
import { buildApp } from '../../infra/app.ts';
import { localResources } from '../../local/cloudAssembly.ts';

process.env.AWS_EC2_METADATA_DISABLED = 'true';

type Resource = { Type: string; Properties: Record<string, any>; Metadata?: Record<string, any> };
type State = { Type: string; Resource?: string; Next?: string; Retry?: { ErrorEquals: string[]; MaxAttempts: number; IntervalSeconds: number; BackoffRate: number }[]; Catch?: { ErrorEquals: string[]; Next: string; ResultPath: string }[]; Error?: string; CausePath?: string; TimeoutSeconds?: number; Parameters?: Record<string, unknown> };

/** The app as `cdk synth -c examples=true` builds it, checked by cdk-nag (synth throws on a finding). */
let expressStack: Stack;
function synth(context: Record<string, string> = {}): Template {
  const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'sluice-cdk-')), context: { examples: 'true', 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = buildApp(app);
  if (context.sagaType === 'EXPRESS') expressStack = stack;
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  return Template.fromJSON(JSON.parse(readFileSync(join(assembly.directory, stack.templateFile), 'utf8')));
}

function onlyResource(template: Template, type: string): [string, Resource] {
  const found = Object.entries(template.findResources(type)) as [string, Resource][];
  assert.equal(found.length, 1, `one ${type}`);
  return found[0]!;
}

describe('Saga construct (the order saga example)', () => {
  let template: Template;
  let states: Record<string, State>;
  let functionIdOf: (arn: string | undefined) => string;
  before(() => {
    template = synth();
    const json = template.toJSON() as { Resources: Record<string, Resource> };
    const ids = Object.fromEntries(Object.keys(json.Resources).map((id) => [id, id]));
    const machine = [...localResources(json, ids).stateMachines.values()][0]!;
    states = machine.definition.States as Record<string, State>;
    functionIdOf = (arn) => /function:(\w+)$/.exec(arn ?? '')?.[1] ?? 'none';
  });

  it('synthesizes a Standard state machine in JSONPath ASL, traced, logging every event without data', () => {
    const [, machine] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
    assert.equal(machine.Properties.StateMachineType, 'STANDARD');
    assert.equal(machine.Properties.TracingConfiguration.Enabled, true);
    assert.equal(machine.Properties.LoggingConfiguration.Level, 'ALL');
    assert.equal(machine.Properties.LoggingConfiguration.IncludeExecutionData, false);
    assert.ok(!JSON.stringify(machine.Properties.DefinitionString).includes('JSONata'), 'JSONPath only');
    const express = synth({ sagaType: 'EXPRESS' });
    assert.equal(onlyResource(express, 'AWS::StepFunctions::StateMachine')[1].Properties.StateMachineType, 'EXPRESS');
  });

  it('retries each step on transient errors per its policy and catches everything else into its failure state', () => {
    for (const step of orderSaga.steps) {
      const state = states[step.name]!;
      assert.equal(state.Type, 'Task');
      assert.equal(state.TimeoutSeconds, step.timeoutSeconds! + 15, 'the Task outlasts its function, so a slow attempt ends as the function timeout');
      const retry = step.retry ?? { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2 };
      assert.equal(state.Retry!.length, 1);
      assert.deepEqual(state.Retry![0]!.ErrorEquals.slice(0, 2), ['Sluice.TransientError', 'States.Timeout']);
      assert.ok(!state.Retry![0]!.ErrorEquals.includes('States.ALL'), 'permanent errors are not retried');
      assert.equal(state.Retry![0]!.MaxAttempts, retry.maxAttempts - 1);
      assert.equal(state.Retry![0]!.IntervalSeconds, retry.intervalSeconds);
      assert.equal(state.Retry![0]!.BackoffRate, retry.backoffRate);
      const catchAll = { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: `${step.name} failed` };
      if (step.compensation === undefined) assert.deepEqual(state.Catch, [catchAll]);
      else {
        // After its last transient failure the step may have acted: it is compensated too.
        assert.deepEqual(state.Catch, [{ ErrorEquals: [...state.Retry![0]!.ErrorEquals, 'Sluice.ResultTooLarge'], ResultPath: '$.error', Next: `${step.name} indeterminate` }, catchAll]);
        assert.equal(states[`${step.name} indeterminate`]!.Next, `Compensate ${step.name}`);
        assert.equal(states[`${step.name} indeterminate`]!.Parameters!.outcome, 'indeterminate');
      }
      assert.equal(states[`${step.name} failed`]!.Parameters!.type, 'step-failed');
    }
  });

  it('compensates the completed steps in reverse order, then fails with the cause', () => {
    const chain = (from: string): string[] => {
      const path: string[] = [];
      for (let at: string | undefined = from; at !== undefined; at = states[at]!.Next) path.push(at);
      return path;
    };
    assert.deepEqual(chain('ReserveInventory failed'), ['ReserveInventory failed', 'Aborted', 'SagaAborted']);
    assert.deepEqual(chain('ChargePayment failed'), ['ChargePayment failed', 'Compensate ReserveInventory', 'ReserveInventory compensated', 'Aborted', 'SagaAborted']);
    assert.deepEqual(chain('ShipOrder failed'), [
      'ShipOrder failed',
      'Compensate ChargePayment',
      'ChargePayment compensated',
      'Compensate ReserveInventory',
      'ReserveInventory compensated',
      'Aborted',
      'SagaAborted',
    ]);
    assert.deepEqual(states.SagaAborted, { Type: 'Fail', Error: 'Sluice.SagaAborted', CausePath: '$.audit.cause' });
    assert.deepEqual(chain('ChargePayment indeterminate'), ['ChargePayment indeterminate', 'Compensate ChargePayment', 'ChargePayment compensated', 'Compensate ReserveInventory', 'ReserveInventory compensated', 'Aborted', 'SagaAborted']);
    assert.deepEqual(states.Started!.Retry![0], { ErrorEquals: ['Sluice.DuplicateRun'], MaxAttempts: 0 }, 'a second run is refused at once');
    assert.deepEqual(chain('DuplicateRun'), ['DuplicateRun']);
    assert.equal(states['Compensate ShipOrder'], undefined, 'ShipOrder has no compensation');
    for (const step of ['ReserveInventory', 'ChargePayment']) {
      const compensate = states[`Compensate ${step}`]!;
      assert.equal(functionIdOf(compensate.Resource), functionIdOf(states[step]!.Resource), 'the compensation runs in the step function');
      assert.equal(compensate.Parameters!.phase, 'compensate');
      assert.deepEqual(compensate.Retry![0]!.ErrorEquals, ['States.ALL'], 'a compensation is retried on any error');
      assert.deepEqual(compensate.Catch, [{ ErrorEquals: ['States.ALL'], ResultPath: '$.compensationError', Next: `Compensate ${step} failed` }]);
      assert.deepEqual(chain(`Compensate ${step} failed`), [`Compensate ${step} failed`, 'CompensationFailed']);
    }
    assert.equal(states.CompensationFailed!.Type, 'Fail');
    assert.equal(states.CompensationFailed!.Error, 'Sluice.CompensationFailed');
  });

  it('runs every step in its own function from the example module, and audits through the Sluice audit function', () => {
    const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const stepIds = new Set(orderSaga.steps.map((s) => functionIdOf(states[s.name]!.Resource)));
    assert.equal(stepIds.size, 3, 'one function per step');
    for (const id of stepIds) {
      assert.deepEqual(functions[id]!.Metadata!['sluice:entry'], { path: 'examples/order-saga/saga.ts', export: 'handler' });
      assert.ok(functions[id]!.Properties.Environment.Variables.SLUICE_SAGA_STEP);
    }
    const auditIds = new Set(Object.values(states).filter((s) => s.Parameters?.kind === 'audit').map((s) => functionIdOf(s.Resource)));
    assert.equal(auditIds.size, 1);
    assert.equal(functions[[...auditIds][0]!]!.Properties.Description, 'Sluice sagaAudit handler');
    for (const s of Object.values(states)) if (s.Parameters?.kind === 'audit') assert.equal(s.Parameters.topic, 'sagas.order');
  });

  it('lets the state machine invoke only its step functions and the audit function', () => {
    const [machineId, machine] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
    const roleId = machine.Properties.RoleArn['Fn::GetAtt'][0];
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const invoked = new Set<string>();
    for (const s of statements.filter((s) => ([] as string[]).concat(s.Action).includes('lambda:InvokeFunction'))) {
      for (const r of ([] as unknown[]).concat(s.Resource)) invoked.add(/"(\w+Function\w*)"/.exec(JSON.stringify(r))![1]!);
    }
    const expected = new Set(Object.values(states).filter((s) => s.Type === 'Task').map((s) => functionIdOf(s.Resource)));
    assert.deepEqual([...invoked].sort(), [...expected].sort());
    // The sagas function may start this state machine and nothing else.
    const sagasFn = Object.entries(template.findResources('AWS::Lambda::Function') as Record<string, Resource>).find(([, f]) => f.Properties.Description === 'Sluice sagas handler')![1];
    const sagasRole = sagasFn.Properties.Role['Fn::GetAtt'][0];
    const start = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === sagasRole))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
      .filter((s) => JSON.stringify(s.Action).includes('states:'));
    assert.deepEqual(start, [{ Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: machineId } }]);
    const metadataGrants = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === sagasRole))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown; Condition?: unknown }[])
      .filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
    assert.ok(metadataGrants.length > 0);
    for (const g of metadataGrants) assert.deepEqual(g.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['saga#*'] } }, 'the sagas function reaches saga items only');
    const audit = Object.values(template.findResources('AWS::Lambda::Function') as Record<string, Resource>).find((f) => f.Properties.Description === 'Sluice sagaAudit handler')!;
    assert.equal(audit.Properties.Environment.Variables.SLUICE_SAGA_AUDIT_TOPICS, JSON.stringify({ order: 'sagas.order' }));
    assert.match(JSON.stringify(sagasFn.Properties.Environment.Variables.SLUICE_SAGAS), new RegExp(`"name\\\\+":\\\\+"order\\\\+".*${machineId}`));
  });

  it('gives each step function only its own table actions', () => {
    const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
    const access = (step: string): string[] => {
      const roleId = functions[functionIdOf(states[step]!.Resource)]!.Properties.Role['Fn::GetAtt'][0];
      return policies
        .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
        .filter((s) => JSON.stringify(s.Action).includes('dynamodb:'))
        .flatMap((s) => ([] as string[]).concat(s.Action).map((a) => `${/"OrderSaga(Inventory|Payments)\w*"/.exec(JSON.stringify(s.Resource))?.[1] ?? 'other'} ${a}`))
        .sort();
    };
    assert.deepEqual(access('ReserveInventory'), ['Inventory dynamodb:PutItem', 'Inventory dynamodb:UpdateItem']);
    assert.deepEqual(access('ChargePayment'), ['Payments dynamodb:PutItem', 'Payments dynamodb:UpdateItem']);
    assert.deepEqual(access('ShipOrder'), ['Inventory dynamodb:GetItem', 'Inventory dynamodb:PutItem']);
  });

  it('sends executions that stop outside the saga to the audit function, and alarms on them (Standard only)', () => {
    const [machineId] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
    const rules = (Object.values(template.findResources('AWS::Events::Rule')) as Resource[]).filter((r) => r.Properties.EventPattern !== undefined);
    assert.equal(rules.length, 1);
    assert.deepEqual(rules[0]!.Properties.EventPattern, {
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { stateMachineArn: [{ Ref: machineId }], status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
    });
    const target = rules[0]!.Properties.Targets[0];
    assert.match(JSON.stringify(target.Arn), /SagaAuditFunction/);
    assert.deepEqual(JSON.parse(target.InputTransformer.InputTemplate.replace('<detail>', 'null')), { kind: 'stopped', saga: 'order', topic: 'sagas.order', detail: null });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'SagaExecutionFailed', Dimensions: Match.arrayWith([{ Name: 'Saga', Value: 'order' }]) });
    const express = synth({ sagaType: 'EXPRESS' });
    assert.equal(Object.values(express.findResources('AWS::Events::Rule')).filter((r: any) => r.Properties.EventPattern !== undefined).length, 0, 'Express executions send no status events');
    express.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ExecutionsTimedOut', Namespace: 'AWS/States' });
    Annotations.fromStack(expressStack).hasWarning('*', Match.stringLikeRegexp('EXPRESS, but its steps'));
  });

  it('alarms when a compensation runs out of attempts', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SagaCompensationFailed',
      Namespace: 'Sluice',
      Dimensions: Match.arrayWith([{ Name: 'Saga', Value: 'order' }]),
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('wires the topic trigger: rung by INSERTs on the log stream and every minute, starting only this state machine', () => {
    const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const [triggerId, trigger] = Object.entries(functions).find(([, f]) => f.Properties.Description === 'Sluice sagaTrigger handler')!;
    assert.deepEqual(trigger.Metadata!['sluice:entry'], { path: 'functions/sagas/trigger.ts', export: 'handler' });
    const [, mapping] = onlyResource(template, 'AWS::Lambda::EventSourceMapping');
    assert.deepEqual(mapping.Properties.FunctionName, { Ref: triggerId });
    assert.match(JSON.stringify(mapping.Properties.EventSourceArn), /LogTable\w*","StreamArn"/);
    assert.deepEqual(mapping.Properties.FilterCriteria, { Filters: [{ Pattern: '{"eventName":["INSERT"]}' }] });
    assert.equal(mapping.Properties.StartingPosition, 'LATEST');
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as Resource[];
    assert.ok(rules.some((r) => r.Properties.ScheduleExpression === 'rate(1 minute)' && JSON.stringify(r.Properties.Targets).includes(triggerId)));
    const roleId = trigger.Properties.Role['Fn::GetAtt'][0];
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const [machineId] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
    assert.deepEqual(statements.filter((s) => JSON.stringify(s.Action).includes('states:')).map((s) => [s.Action, s.Resource]), [['states:StartExecution', { Ref: machineId }]]);
    const dynamo = statements.flatMap((s) => ([] as string[]).concat(s.Action)).filter((a) => a.startsWith('dynamodb:')).sort();
    assert.ok(!dynamo.some((a) => a === 'dynamodb:*' || a.endsWith('Table')), 'no table-level admin rights');
    for (const needed of ['dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:Query', 'dynamodb:ConditionCheckItem']) assert.ok(dynamo.includes(needed), needed);
  });
});

