import { Annotations, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import {
  CfnStateMachine,
  DefinitionBody,
  LogLevel,
  StateMachine,
  StateMachineType,
} from 'aws-cdk-lib/aws-stepfunctions';
import { EventField, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import {
  DEFAULT_COMPENSATION_RETRY,
  DEFAULT_RETRY,
  DEFAULT_STEP_TIMEOUT_SECONDS,
  auditTopicOf,
  type RetryPolicy,
  type SagaDefinition,
} from '../../core/sagas/definition.ts';
import { TASK_TIMEOUT_MARGIN_SECONDS, buildSagaStateMachine } from '../../core/sagas/stateMachine.ts';
import { sluiceFunction } from '../sluiceFunction.ts';
import type { SluiceStack } from '../sluiceStack.ts';

/** Template metadata on a saga's state machine: which saga it runs (read by the local stack). */
export const SAGA_METADATA = 'sluice:saga';

export interface SagaProps {
  /** The Sluice stack: its audit function records the saga's events, its API starts executions. */
  readonly sluice: SluiceStack;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any saga's definition, whatever its input type
  readonly definition: SagaDefinition<any>;
  /**
   * The module whose `handler` export is `sagaStepHandler(definition)`. Each step becomes its own
   * function built from this module (so each gets only its own rights); the local stack runs the
   * same module.
   */
  readonly entry: string;
  /** @default 'handler' */
  readonly handler?: string;
  /**
   * STANDARD (exactly-once state transitions, up to a year, priced per transition) or EXPRESS
   * (at-least-once, up to 5 minutes, priced per duration: cheaper for short, busy sagas).
   * @default 'STANDARD'
   */
  readonly type?: 'STANDARD' | 'EXPRESS';
  /** Environment for every step function. */
  readonly environment?: Record<string, string>;
  /** Grants and settings per step, e.g. `(step, fn) => inventory.grantReadWriteData(fn)`. */
  readonly configureStep?: (step: string, fn: NodejsFunction) => void;
  /** Where the alarm on a failed compensation notifies. @default - the alarm has no action */
  readonly alarmTopic?: ITopic;
  /** A whole execution may take this long. @default - Step Functions' maximum for the type */
  readonly timeout?: Duration;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * A saga as a Step Functions state machine (JSONPath ASL from `buildSagaStateMachine`): one
 * function per step running its action and compensation, the Sluice audit function for every
 * lifecycle event, `Catch` into the compensation chain, `Fail` states with the cause, and an
 * alarm when a compensation runs out of attempts.
 */
export class Saga extends Construct {
  readonly stateMachine: StateMachine;
  readonly stepFunctions: Readonly<Record<string, NodejsFunction>>;
  readonly compensationFailedAlarm: Alarm;
  /** An execution stopped outside the saga's own paths (Standard state machines only). */
  readonly executionFailedAlarm: Alarm | undefined;

  constructor(scope: Construct, id: string, props: SagaProps) {
    super(scope, id);
    const saga = props.definition;
    const stack = Stack.of(this);

    const steps: Record<string, NodejsFunction> = {};
    for (const step of saga.steps) {
      const fn = sluiceFunction(this, step.name, {
        entry: props.entry,
        ...(props.handler === undefined ? {} : { handler: props.handler }),
        description: `Sluice saga ${saga.name}: ${step.name}`,
        // Lambda stops a hung attempt at the state's own timeout.
        timeout: Duration.seconds(step.timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS),
        layers: props.sluice.powertoolsLayers,
        ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
        ...(props.sluice.encryptionKey === undefined ? {} : { encryptionKey: props.sluice.encryptionKey }),
        environment: { ...props.environment, SLUICE_SAGA_STEP: step.name },
      });
      props.configureStep?.(step.name, fn);
      steps[step.name] = fn;
    }
    this.stepFunctions = steps;

    const definition = buildSagaStateMachine(saga, {
      stepFunction: (step) => steps[step]!.functionArn,
      auditFunction: props.sluice.sagaAudit.functionArn,
    });
    // The audit topic travels in each audit state's parameters.
    for (const state of Object.values(definition.States)) {
      const parameters = (state as { Parameters?: Record<string, unknown> }).Parameters;
      if (parameters?.kind === 'audit') parameters.topic = auditTopicOf(saga);
    }
    const type = props.type ?? 'STANDARD';
    const logs = new LogGroup(this, 'ExecutionLogs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
      ...(props.sluice.encryptionKey === undefined ? {} : { encryptionKey: props.sluice.encryptionKey }),
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      definitionBody: DefinitionBody.fromString(stack.toJsonString(definition)),
      stateMachineType: type === 'EXPRESS' ? StateMachineType.EXPRESS : StateMachineType.STANDARD,
      tracingEnabled: true,
      // Every event, without inputs and outputs (which carry business data).
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
      ...(props.timeout === undefined ? {} : { timeout: props.timeout }),
    });
    (this.stateMachine.node.defaultChild as CfnStateMachine).addMetadata(SAGA_METADATA, { name: saga.name });
    const role = this.stateMachine.role;
    for (const fn of [...Object.values(steps), props.sluice.sagaAudit]) {
      fn.grantInvoke(role);
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(fn).getLogicalId(fn.node.defaultChild as CfnFunction)}.Arn>:*]`,
        reason:
          "Invoking a function grants its ARN and its versions (`<arn>:*`), as CDK's grantInvoke does; nothing else is invocable.",
      });
    }
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray tracing and CloudWatch Logs delivery for the state machine take no resource-level permissions.',
    });

    props.sluice.addSaga({
      name: saga.name,
      steps: saga.steps.map((s) => s.name),
      auditTopic: auditTopicOf(saga),
      type,
      stateMachine: this.stateMachine,
      ...(saga.trigger === undefined ? {} : { trigger: saga.trigger }),
    });

    const alarm = (id: string, metricName: string, description: string): Alarm => {
      const created = new Alarm(this, id, {
        alarmDescription: `Saga ${saga.name}: ${description}`,
        metric: new Metric({
          namespace: 'Sluice',
          metricName,
          dimensionsMap: { service: 'sluice', Saga: saga.name },
          statistic: 'Sum',
          period: Duration.minutes(1),
        }),
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      if (props.alarmTopic !== undefined) created.addAlarmAction(new SnsAction(props.alarmTopic));
      return created;
    };
    if (type === 'EXPRESS') {
      // Express executions end after five minutes and report no status events: warn when the
      // steps' attempts could outlast that, and alarm on executions that did.
      const worst = worstCaseSeconds(saga);
      if (worst > 300) {
        Annotations.of(this).addWarning(
          `Saga ${saga.name} is EXPRESS, but its steps' attempts and compensations could take ${worst} s, more than Express's 300 s; an execution cut off there is not compensated. Use STANDARD, or fewer attempts and shorter timeouts.`,
        );
      }
      const timedOut = new Alarm(this, 'ExecutionTimedOutAlarm', {
        alarmDescription: `Saga ${saga.name}: an Express execution hit the five-minute limit; compensations may not have run`,
        metric: this.stateMachine.metricTimedOut({ period: Duration.minutes(1), statistic: 'Sum' }),
        threshold: 0,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      if (props.alarmTopic !== undefined) timedOut.addAlarmAction(new SnsAction(props.alarmTopic));
    }
    this.compensationFailedAlarm = alarm(
      'CompensationFailedAlarm',
      'SagaCompensationFailed',
      "a compensation failed after all its attempts; an operator must finish undoing the execution (see the saga's audit topic)",
    );

    // Executions that stop outside the saga's own paths (a timeout, a stop from the console, an
    // audit call that kept failing) reach the audit function through EventBridge, which only
    // Standard state machines report to.
    this.executionFailedAlarm = undefined;
    if (type === 'STANDARD') {
      new Rule(this, 'ExecutionStopped', {
        description: `Records executions of saga ${saga.name} that stopped outside its own paths`,
        eventPattern: {
          source: ['aws.states'],
          detailType: ['Step Functions Execution Status Change'],
          detail: { stateMachineArn: [this.stateMachine.stateMachineArn], status: ['FAILED', 'TIMED_OUT', 'ABORTED'] },
        },
        targets: [
          new LambdaFunction(props.sluice.sagaAudit, {
            retryAttempts: 8,
            event: RuleTargetInput.fromObject({
              kind: 'stopped',
              saga: saga.name,
              topic: auditTopicOf(saga),
              // The whole detail (name, status, error, cause): a path to a field an event lacks is not safe.
              detail: EventField.fromPath('$.detail'),
            }),
          }),
        ],
      });
      this.executionFailedAlarm = alarm(
        'ExecutionFailedAlarm',
        'SagaExecutionFailed',
        'an execution stopped outside the saga (timed out, stopped, or its audit kept failing); compensations may not have run',
      );
    }
  }
}

/** The longest a saga's steps could take: every action and every compensation at its last attempt. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any saga's definition, whatever its input type
function worstCaseSeconds(saga: SagaDefinition<any>): number {
  const policy = (p: RetryPolicy, timeout: number): number => {
    let total = 0;
    for (let attempt = 0; attempt < p.maxAttempts; attempt++) {
      total += timeout + TASK_TIMEOUT_MARGIN_SECONDS;
      if (attempt > 0)
        total += Math.min(
          (p.intervalSeconds ?? 1) * (p.backoffRate ?? 2) ** (attempt - 1),
          p.maxDelaySeconds ?? Infinity,
        );
    }
    return total;
  };
  return Math.round(
    saga.steps.reduce((sum, step) => {
      const timeout = step.timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS;
      return (
        sum +
        policy(step.retry ?? DEFAULT_RETRY, timeout) +
        (step.compensation === undefined ? 0 : policy(step.compensationRetry ?? DEFAULT_COMPENSATION_RETRY, timeout))
      );
    }, 0),
  );
}
