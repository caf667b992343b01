import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { App, Validations, type Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { orderSaga } from '../../examples/order-saga/saga.ts';
import { buildApp } from '../../infra/app.ts';
import { localResources } from '../../local/cloudAssembly.ts';

process.env.AWS_EC2_METADATA_DISABLED = 'true';

type Resource = { Type: string; Properties: Record<string, any>; Metadata?: Record<string, any> };
type State = {
  Type: string;
  Resource?: string;
  Next?: string;
  Retry?: { ErrorEquals: string[]; MaxAttempts: number; IntervalSeconds: number; BackoffRate: number }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath: string }[];
  Error?: string;
  CausePath?: string;
  TimeoutSeconds?: number;
  Parameters?: Record<string, unknown>;
};

/** The app as `cdk synth -c examples=true` builds it, checked by cdk-nag (synth throws on a finding). */
let expressStack: Stack;
function synth(context: Record<string, string> = {}): Template {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'sluice-cdk-')),
    context: { examples: 'true', 'aws:cdk:bundling-stacks': [], ...context },
  });
  const stack = buildApp(app);
  if (context.sagaType === 'EXPRESS') expressStack = stack;
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  return Template.fromJSON(JSON.parse(readFileSync(join(assembly.directory, stack.templateFile), 'utf8')));
}

function onlyResource(template: Template, type: string): [string, Resource] {
  const found = Object.entries(template.findResources(type)) as [string, Resource][];
  expect(found.length, `one ${type}`).toBe(1);
  return found[0]!;
}

describe('Saga construct (the order saga example)', () => {
  let template: Template;
  let states: Record<string, State>;
  let functionIdOf: (arn: string | undefined) => string;
  beforeAll(() => {
    template = synth();
    const json = template.toJSON() as { Resources: Record<string, Resource> };
    const ids = Object.fromEntries(Object.keys(json.Resources).map((id) => [id, id]));
    const machine = [...localResources(json, ids).stateMachines.values()][0]!;
    states = machine.definition.States as Record<string, State>;
    functionIdOf = (arn) => /function:(\w+)$/.exec(arn ?? '')?.[1] ?? 'none';
  });

  it('synthesizes a Standard state machine in JSONPath ASL, traced, logging every event without data', () => {
    const [, machine] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
    expect(machine.Properties.StateMachineType).toBe('STANDARD');
    expect(machine.Properties.TracingConfiguration.Enabled).toBe(true);
    expect(machine.Properties.LoggingConfiguration.Level).toBe('ALL');
    expect(machine.Properties.LoggingConfiguration.IncludeExecutionData).toBe(false);
    expect(!JSON.stringify(machine.Properties.DefinitionString).includes('JSONata'), 'JSONPath only').toBeTruthy();
    const express = synth({ sagaType: 'EXPRESS' });
    expect(onlyResource(express, 'AWS::StepFunctions::StateMachine')[1].Properties.StateMachineType).toBe('EXPRESS');
  });

  it('retries each step on transient errors per its policy and catches everything else into its failure state', () => {
    for (const step of orderSaga.steps) {
      const state = states[step.name]!;
      expect(state.Type).toBe('Task');
      expect(
        state.TimeoutSeconds,
        'the Task outlasts its function, so a slow attempt ends as the function timeout',
      ).toBe(step.timeoutSeconds! + 15);
      const retry = step.retry ?? { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2 };
      expect(state.Retry!.length).toBe(1);
      expect(state.Retry![0]!.ErrorEquals.slice(0, 2)).toStrictEqual(['Sluice.TransientError', 'States.Timeout']);
      expect(!state.Retry![0]!.ErrorEquals.includes('States.ALL'), 'permanent errors are not retried').toBeTruthy();
      expect(state.Retry![0]!.MaxAttempts).toBe(retry.maxAttempts - 1);
      expect(state.Retry![0]!.IntervalSeconds).toBe(retry.intervalSeconds);
      expect(state.Retry![0]!.BackoffRate).toBe(retry.backoffRate);
      const catchAll = { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: `${step.name} failed` };
      if (step.compensation === undefined) expect(state.Catch).toStrictEqual([catchAll]);
      else {
        // After its last transient failure the step may have acted: it is compensated too.
        expect(state.Catch).toStrictEqual([
          {
            ErrorEquals: [...state.Retry![0]!.ErrorEquals, 'Sluice.ResultTooLarge'],
            ResultPath: '$.error',
            Next: `${step.name} indeterminate`,
          },
          catchAll,
        ]);
        expect(states[`${step.name} indeterminate`]!.Next).toBe(`Compensate ${step.name}`);
        expect(states[`${step.name} indeterminate`]!.Parameters!.outcome).toBe('indeterminate');
      }
      expect(states[`${step.name} failed`]!.Parameters!.type).toBe('step-failed');
    }
  });

  it('compensates the completed steps in reverse order, then fails with the cause', () => {
    const chain = (from: string): string[] => {
      const path: string[] = [];
      for (let at: string | undefined = from; at !== undefined; at = states[at]!.Next) path.push(at);
      return path;
    };
    expect(chain('ReserveInventory failed')).toStrictEqual(['ReserveInventory failed', 'Aborted', 'SagaAborted']);
    expect(chain('ChargePayment failed')).toStrictEqual([
      'ChargePayment failed',
      'Compensate ReserveInventory',
      'ReserveInventory compensated',
      'Aborted',
      'SagaAborted',
    ]);
    expect(chain('ShipOrder failed')).toStrictEqual([
      'ShipOrder failed',
      'Compensate ChargePayment',
      'ChargePayment compensated',
      'Compensate ReserveInventory',
      'ReserveInventory compensated',
      'Aborted',
      'SagaAborted',
    ]);
    expect(states.SagaAborted).toStrictEqual({ Type: 'Fail', Error: 'Sluice.SagaAborted', CausePath: '$.audit.cause' });
    expect(chain('ChargePayment indeterminate')).toStrictEqual([
      'ChargePayment indeterminate',
      'Compensate ChargePayment',
      'ChargePayment compensated',
      'Compensate ReserveInventory',
      'ReserveInventory compensated',
      'Aborted',
      'SagaAborted',
    ]);
    expect(states.Started!.Retry![0], 'a second run is refused at once').toStrictEqual({
      ErrorEquals: ['Sluice.DuplicateRun'],
      MaxAttempts: 0,
    });
    expect(chain('DuplicateRun')).toStrictEqual(['DuplicateRun']);
    expect(states['Compensate ShipOrder'], 'ShipOrder has no compensation').toBe(undefined);
    for (const step of ['ReserveInventory', 'ChargePayment']) {
      const compensate = states[`Compensate ${step}`]!;
      expect(functionIdOf(compensate.Resource), 'the compensation runs in the step function').toBe(
        functionIdOf(states[step]!.Resource),
      );
      expect(compensate.Parameters!.phase).toBe('compensate');
      expect(compensate.Retry![0]!.ErrorEquals, 'a compensation is retried on any error').toStrictEqual(['States.ALL']);
      expect(compensate.Catch).toStrictEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.compensationError', Next: `Compensate ${step} failed` },
      ]);
      expect(chain(`Compensate ${step} failed`)).toStrictEqual([`Compensate ${step} failed`, 'CompensationFailed']);
    }
    expect(states.CompensationFailed!.Type).toBe('Fail');
    expect(states.CompensationFailed!.Error).toBe('Sluice.CompensationFailed');
  });

  it('runs every step in its own function from the example module, and audits through the Sluice audit function', () => {
    const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const stepIds = new Set(orderSaga.steps.map((s) => functionIdOf(states[s.name]!.Resource)));
    expect(stepIds.size, 'one function per step').toBe(3);
    for (const id of stepIds) {
      expect(functions[id]!.Metadata!['sluice:entry']).toStrictEqual({
        path: 'examples/order-saga/saga.ts',
        export: 'handler',
      });
      expect(functions[id]!.Properties.Environment.Variables.SLUICE_SAGA_STEP).toBeTruthy();
      expect(functions[id]!.Properties.Environment.Variables.POWERTOOLS_TRACER_CAPTURE_ERROR).toBe('false');
    }
    const auditIds = new Set(
      Object.values(states)
        .filter((s) => s.Parameters?.kind === 'audit')
        .map((s) => functionIdOf(s.Resource)),
    );
    expect(auditIds.size).toBe(1);
    expect(functions[[...auditIds][0]!]!.Properties.Description).toBe('Sluice sagaAudit handler');
    for (const s of Object.values(states))
      if (s.Parameters?.kind === 'audit') expect(s.Parameters.topic).toBe('sagas.order');
  });

  it('lets the state machine invoke only its step functions and the audit function', () => {
    const [machineId, machine] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
    const roleId = machine.Properties.RoleArn['Fn::GetAtt'][0];
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const invoked = new Set<string>();
    for (const s of statements.filter((s) => ([] as string[]).concat(s.Action).includes('lambda:InvokeFunction'))) {
      for (const r of ([] as unknown[]).concat(s.Resource))
        invoked.add(/"(\w+Function\w*)"/.exec(JSON.stringify(r))![1]!);
    }
    const expected = new Set(
      Object.values(states)
        .filter((s) => s.Type === 'Task')
        .map((s) => functionIdOf(s.Resource)),
    );
    expect([...invoked].sort()).toStrictEqual([...expected].sort());
    // The sagas function may start this state machine and nothing else.
    const sagasFn = Object.entries(template.findResources('AWS::Lambda::Function') as Record<string, Resource>).find(
      ([, f]) => f.Properties.Description === 'Sluice sagas handler',
    )![1];
    const sagasRole = sagasFn.Properties.Role['Fn::GetAtt'][0];
    const start = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === sagasRole))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
      .filter((s) => JSON.stringify(s.Action).includes('states:'));
    expect(start).toStrictEqual([{ Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: machineId } }]);
    const metadataGrants = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === sagasRole))
      .flatMap(
        (p) =>
          p.Properties.PolicyDocument.Statement as {
            Action: string | string[];
            Resource: unknown;
            Condition?: unknown;
          }[],
      )
      .filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
    expect(metadataGrants.length > 0).toBeTruthy();
    for (const g of metadataGrants)
      expect(g.Condition, 'the sagas function reaches saga items only').toStrictEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['saga#*'] },
      });
    const audit = Object.values(template.findResources('AWS::Lambda::Function') as Record<string, Resource>).find(
      (f) => f.Properties.Description === 'Sluice sagaAudit handler',
    )!;
    expect(audit.Properties.Environment.Variables.SLUICE_SAGA_AUDIT_TOPICS).toBe(
      JSON.stringify({ order: 'sagas.order' }),
    );
    expect(JSON.stringify(sagasFn.Properties.Environment.Variables.SLUICE_SAGAS)).toMatch(
      new RegExp(`"name\\\\+":\\\\+"order\\\\+".*${machineId}`),
    );
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
        .flatMap((s) =>
          ([] as string[])
            .concat(s.Action)
            .map(
              (a) => `${/"OrderSaga(Inventory|Payments)\w*"/.exec(JSON.stringify(s.Resource))?.[1] ?? 'other'} ${a}`,
            ),
        )
        .sort();
    };
    expect(access('ReserveInventory')).toStrictEqual(['Inventory dynamodb:PutItem', 'Inventory dynamodb:UpdateItem']);
    expect(access('ChargePayment')).toStrictEqual(['Payments dynamodb:PutItem', 'Payments dynamodb:UpdateItem']);
    expect(access('ShipOrder')).toStrictEqual(['Inventory dynamodb:GetItem', 'Inventory dynamodb:PutItem']);
  });

  it('sends executions that stop outside the saga to the audit function, and alarms on them (Standard only)', () => {
    const [machineId] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
    const rules = (Object.values(template.findResources('AWS::Events::Rule')) as Resource[]).filter(
      (r) => r.Properties.EventPattern !== undefined,
    );
    expect(rules.length).toBe(1);
    expect(rules[0]!.Properties.EventPattern).toStrictEqual({
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { stateMachineArn: [{ Ref: machineId }], status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
    });
    const target = rules[0]!.Properties.Targets[0];
    expect(JSON.stringify(target.Arn)).toMatch(/SagaAuditFunction/);
    expect(JSON.parse(target.InputTransformer.InputTemplate.replace('<detail>', 'null'))).toStrictEqual({
      kind: 'stopped',
      saga: 'order',
      topic: 'sagas.order',
      detail: null,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'SagaExecutionFailed',
      Dimensions: Match.arrayWith([{ Name: 'Saga', Value: 'order' }]),
    });
    const express = synth({ sagaType: 'EXPRESS' });
    expect(
      Object.values(express.findResources('AWS::Events::Rule')).filter(
        (r: any) => r.Properties.EventPattern !== undefined,
      ).length,
      'Express executions send no status events',
    ).toBe(0);
    express.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ExecutionsTimedOut',
      Namespace: 'AWS/States',
    });
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

  it('wires the topic trigger: rung by the dispatcher (the log stream’s one consumer) for its topics only, and every minute, starting only this state machine', () => {
    const functions = template.findResources('AWS::Lambda::Function') as Record<string, Resource>;
    const [triggerId, trigger] = Object.entries(functions).find(
      ([, f]) => f.Properties.Description === 'Sluice sagaTrigger handler',
    )!;
    expect(trigger.Metadata!['sluice:entry']).toStrictEqual({ path: 'functions/sagas/trigger.ts', export: 'handler' });
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')) as Resource[];
    expect(
      mappings.filter((m) => JSON.stringify(m.Properties.FunctionName) === JSON.stringify({ Ref: triggerId })),
      'no stream of its own: every append would invoke it',
    ).toStrictEqual([]);
    const [dispatcherId, dispatcher] = Object.entries(functions).find(
      ([, f]) => f.Properties.Description === 'Sluice subscriptionDispatcher handler',
    )!;
    // The doorbell list (functions/subscriptions/ringOnAppend.ts): a JSON string with the functions' names joined in.
    const ringList = dispatcher.Properties.Environment.Variables.SLUICE_RING_ON_APPEND['Fn::Join'][1] as unknown[];
    const at = ringList.findIndex((part) => JSON.stringify(part) === JSON.stringify({ Ref: triggerId }));
    expect(ringList[at - 1]).toMatch(/"function":"$/);
    expect(ringList[at + 1]).toMatch(/^","topics":\["orders"\]}/);
    const dispatcherRole = dispatcher.Properties.Role['Fn::GetAtt'][0];
    const invokes = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === dispatcherRole))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
      .filter((st) => ([] as string[]).concat(st.Action).includes('lambda:InvokeFunction'));
    expect(JSON.stringify(invokes.map((st) => st.Resource))).toContain(triggerId);
    expect(dispatcherId).not.toBe(triggerId);
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as Resource[];
    expect(
      rules.some(
        (r) =>
          r.Properties.ScheduleExpression === 'rate(1 minute)' &&
          JSON.stringify(r.Properties.Targets).includes(triggerId),
      ),
    ).toBeTruthy();
    const roleId = trigger.Properties.Role['Fn::GetAtt'][0];
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const [machineId] = onlyResource(template, 'AWS::StepFunctions::StateMachine');
    expect(
      statements.filter((s) => JSON.stringify(s.Action).includes('states:')).map((s) => [s.Action, s.Resource]),
    ).toStrictEqual([['states:StartExecution', { Ref: machineId }]]);
    const dynamo = statements
      .flatMap((s) => ([] as string[]).concat(s.Action))
      .filter((a) => a.startsWith('dynamodb:'))
      .sort();
    expect(!dynamo.some((a) => a === 'dynamodb:*' || a.endsWith('Table')), 'no table-level admin rights').toBeTruthy();
    for (const needed of ['dynamodb:Query', 'dynamodb:ConditionCheckItem'])
      expect(dynamo.includes(needed), needed).toBeTruthy();
    for (const stream of ['dynamodb:GetRecords', 'dynamodb:GetShardIterator'])
      expect(dynamo.includes(stream), `${stream}: it reads no stream`).toBe(false);
  });
});
