import { Duration, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { validateTopicName } from '../../core/log/topicConfig.ts';
import { sinkTableEnv } from '../../functions/streams/processorEnv.ts';
import { bindTable } from '../bindTable.ts';
import { sluiceFunction } from '../sluiceFunction.ts';
import type { SluiceStack } from '../sluiceStack.ts';

/** Template metadata on a stream job's function: the job and its source (read by the local stack). */
export const STREAM_JOB_METADATA = 'sluice:streamJob';

/** What `STREAM_JOB_METADATA` holds. */
export interface StreamJobMetadata {
  readonly name: string;
  readonly source: string;
}

export interface StreamProcessorProps {
  /** The Sluice stack whose tables the job reads and writes, and whose log stream rings it. */
  readonly sluice: SluiceStack;
  /**
   * The module whose `handler` export is `streamProcessorHandler(job, { name })`
   * (functions/streams/processor.ts), relative to the project root or absolute. The local stack
   * runs the same module.
   */
  readonly entry: string;
  /** @default 'handler' */
  readonly handler?: string;
  /**
   * The job's name, the same as the handler's `name`: the key of its state. The function may
   * change this job's state items and no other's (the handler refuses to run under another name).
   */
  readonly name: string;
  /** The job's source topic (`stream(topic, …)`): appends to it ring the function. */
  readonly source: string;
  /**
   * The tables behind the job's table sinks, by sink name (`toTable(name)`): each is granted the
   * one write a step's transaction makes there (PutItem, an upsert) on that table alone, and its
   * name reaches the handler in the environment (`sinkTableEnv`). Output topics need no grant of
   * their own: any topic may be appended to, as by the transactions routes.
   * @default - none: a sink writes to the table of its own name, with no grant
   */
  readonly tables?: Readonly<Record<string, Table>>;
  /**
   * How often the job runs without a ring: a ring lost, and windows that fire because partitions
   * went idle (no append rings for those). `null`: no schedule, rings only.
   * @default Duration.minutes(1)
   */
  readonly schedule?: Duration | null;
  /** @default 512 */
  readonly memorySize?: number;
  /**
   * Each invocation runs steps until the source is drained or less than the handler's margin (10 s
   * by default) of this remains; reserved concurrency 1 queues rings behind a long invocation.
   * @default Duration.minutes(1)
   */
  readonly timeout?: Duration;
  /** Environment for the function (the tables' names and the job's are set already). */
  readonly environment?: Record<string, string>;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/**
 * A stream job (`stream(…)…to(topic)`) deployed as one Lambda function, driven as subscriptions
 * and saga triggers are: the log table's stream rings it through the dispatcher when an append
 * touches its source topic, and a schedule runs it as a backstop.
 *
 * One job is one runner with one state (its watermark, every source partition's next offset, every
 * key's windows), committed whole with each step's outputs. So the function has a reserved
 * concurrency of 1: invocations take turns (two at once would still be correct, the state's
 * version refusing one's commit, but the loser's work would be wasted). Parallel across partitions
 * means each step reads every partition of the source at once, not one function per partition.
 *
 * @example
 * new StreamProcessor(stack, 'FraudDetector', {
 *   sluice: stack,
 *   entry: 'examples/streams/fraudDetectionJob.ts',
 *   name: 'fraud-detector',
 *   source: 'transactions',
 * });
 */
export class StreamProcessor extends Construct {
  readonly function: NodejsFunction;
  /** The backstop schedule, unless `schedule` is null. */
  readonly schedule: Rule | undefined;

  constructor(scope: Construct, id: string, props: StreamProcessorProps) {
    super(scope, id);
    if (!/^[A-Za-z0-9._-]{1,200}$/.test(props.name ?? ''))
      throw new Error(`StreamProcessor name ${props.name} must be 1-200 characters of A-Z, a-z, 0-9, ".", "_" and "-"`);
    validateTopicName(props.source);
    const timeout = props.timeout ?? Duration.minutes(1);
    if (timeout.toSeconds() < 20 || timeout.toSeconds() > 900)
      throw new Error(
        'StreamProcessor timeout must be 20 s to 15 min: each invocation keeps 10 s back to finish its step',
      );
    const memorySize = props.memorySize ?? 512;
    if (!Number.isSafeInteger(memorySize) || memorySize < 128 || memorySize > 10240)
      throw new Error('StreamProcessor memorySize must be 128 to 10240 (MB)');

    const sluice = props.sluice;
    const fn = sluiceFunction(this, 'Processor', {
      entry: props.entry,
      ...(props.handler === undefined ? {} : { handler: props.handler }),
      description: `Sluice stream job ${props.name}`,
      timeout,
      layers: sluice.powertoolsLayers,
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
      ...(sluice.encryptionKey === undefined ? {} : { encryptionKey: sluice.encryptionKey }),
      environment: { ...props.environment },
    });
    const cfn = fn.node.defaultChild as CfnFunction;
    cfn.memorySize = memorySize;
    // One runner per job: invocations take turns (see the class comment).
    cfn.reservedConcurrentExecutions = 1;
    cfn.addMetadata(STREAM_JOB_METADATA, { name: props.name, source: props.source } satisfies StreamJobMetadata);
    sluice.grantStreamJob(fn, props.name);
    for (const [sink, table] of Object.entries(props.tables ?? {})) {
      bindTable({ table, grantee: fn, actions: ['dynamodb:PutItem'] });
      fn.addEnvironment(sinkTableEnv(sink), table.tableName);
    }
    // The doorbell: the dispatcher rings the function when an append touches the source.
    sluice.ringOnAppend(fn, [props.source]);

    this.schedule =
      props.schedule === null
        ? undefined
        : new Rule(this, 'Schedule', {
            description: `Runs stream job ${props.name} (a backstop for the log stream's rings, and idle partitions' windows)`,
            schedule: Schedule.rate(props.schedule ?? Duration.minutes(1)),
            targets: [new LambdaFunction(fn, { retryAttempts: 0 })], // the next tick is the retry
          });
    Validations.of(fn.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray (PutTraceSegments, PutTelemetryRecords) supports no resource-level permissions.',
    });
    this.function = fn;
  }
}
