import { App, type CfnResource } from 'aws-cdk-lib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../infra/app.ts';
import { SAGA_METADATA } from '../infra/sagas/saga.ts';
import { ENTRY_METADATA } from '../infra/sluiceFunction.ts';
import { STREAM_JOB_METADATA, type StreamJobMetadata } from '../infra/streams/streamProcessor.ts';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

// CloudFormation JSON as synthesized: properties and metadata are read by key and checked where used.
interface CfnTemplate {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
  Resources: Record<string, { Type: string; Properties?: Record<string, any>; Metadata?: Record<string, any> }>;
}

export interface LocalFunction {
  readonly logicalId: string;
  readonly arn: string;
  /** Source file relative to the project root, and the handler's export name. */
  readonly entry: { readonly path: string; readonly export: string };
  readonly environment: Record<string, string>;
  /** The stream job it runs, for a `StreamProcessor`'s function. */
  readonly streamJob?: StreamJobMetadata;
}

export interface LocalStateMachine {
  readonly logicalId: string;
  readonly arn: string;
  readonly name: string;
  readonly type: 'STANDARD' | 'EXPRESS';
  readonly saga: string | undefined;
  readonly definition: Record<string, unknown>;
}

export interface LocalTable {
  readonly logicalId: string;
  readonly name: string;
  readonly keySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
  readonly attributeDefinitions: { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[];
}

/** An EventBridge rule matching events from a service, with its function targets. */
export interface LocalRule {
  readonly logicalId: string;
  readonly eventPattern: Record<string, unknown>;
  readonly targets: {
    readonly arn: string;
    readonly input?: string;
    readonly inputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
  }[];
}

export interface LocalResources {
  readonly functions: ReadonlyMap<string, LocalFunction>;
  readonly stateMachines: ReadonlyMap<string, LocalStateMachine>;
  /** Tables the template declares beyond Sluice's own (e.g. an example's), to create locally. */
  readonly tables: readonly LocalTable[];
  /** Rules with an event pattern (scheduled rules are left to the local stack's timers). */
  readonly rules: readonly LocalRule[];
}

/**
 * Synthesizes the CDK app exactly as `cdk synth` does (the same `buildApp`, with the examples on
 * and bundling skipped: locally the functions run from source) and reads back the template, so
 * the local stack runs the state machines CDK would deploy.
 */
export function synthesizeTemplate(options: { examples?: boolean; context?: Readonly<Record<string, string>> } = {}): {
  template: CfnTemplate;
  sluiceIds: { log: string; metadata: string; bucket: string };
} {
  const outdir = mkdtempSync(join(tmpdir(), 'sluice-cdk-'));
  try {
    const app = new App({
      outdir,
      context: { ...options.context, examples: String(options.examples ?? true), 'aws:cdk:bundling-stacks': [] },
    });
    const stack = buildApp(app);
    const assembly = app.synth();
    const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as CfnResource);
    return {
      template: assembly.getStackArtifact(stack.artifactId).template as CfnTemplate,
      sluiceIds: { log: id(stack.logTable), metadata: id(stack.metadataTable), bucket: id(stack.segmentBucket) },
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * The template's functions, state machines and extra tables with every intrinsic resolved to its
 * local value: a function's ARN names its logical id, `refs` maps resources that already exist
 * locally (Sluice's tables and bucket) to their local names.
 */
export function localResources(template: CfnTemplate, refs: Readonly<Record<string, string>>): LocalResources {
  const resources = template.Resources;
  const tableName = (id: string): string =>
    refs[id] ??
    (typeof resources[id]?.Properties?.TableName === 'string' ? resources[id].Properties.TableName : `local-${id}`);
  const physical = (id: string): string => {
    const r = resources[id];
    if (r === undefined) throw new Error(`The template has no resource ${id}`);
    switch (r.Type) {
      case 'AWS::Lambda::Function':
        return id;
      case 'AWS::DynamoDB::Table':
        return tableName(id);
      case 'AWS::StepFunctions::StateMachine':
        return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${id}`;
      case 'AWS::SQS::Queue':
        return ''; // no queues locally: the roller, given no queue URL, runs its whole pass itself
      case 'AWS::ApiGatewayV2::Api':
        return 'local'; // the local gateway serves the APIs (and the WebSocket API's management endpoint)
      default:
        if (refs[id] !== undefined) return refs[id];
        throw new Error(`No local value for a Ref to ${r.Type} ${id}`);
    }
  };
  const attribute = (id: string, name: string): string => {
    const type = resources[id]?.Type;
    if (name !== 'Arn') throw new Error(`No local value for ${id}.${name}`);
    if (type === 'AWS::Lambda::Function') return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${id}`;
    if (type === 'AWS::DynamoDB::Table')
      return `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${tableName(id)}`;
    if (type === 'AWS::StepFunctions::StateMachine') return physical(id);
    throw new Error(`No local value for ${type} ${id}.Arn`);
  };
  const PSEUDO: Record<string, string> = {
    'AWS::Region': LOCAL_REGION,
    'AWS::AccountId': LOCAL_ACCOUNT,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value);
    if (entries.length === 1) {
      const [key, arg] = entries[0]!;
      if (key === 'Ref') return PSEUDO[arg as string] ?? physical(arg as string);
      if (key === 'Fn::GetAtt') return attribute((arg as string[])[0]!, (arg as string[])[1]!);
      if (key === 'Fn::Join') return ((resolve((arg as unknown[])[1]) as unknown[]) ?? []).join((arg as [string])[0]);
      if (key.startsWith('Fn::')) throw new Error(`The local stack cannot resolve ${key}`);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };

  const functions = new Map<string, LocalFunction>();
  const stateMachines = new Map<string, LocalStateMachine>();
  const tables: LocalTable[] = [];
  const rules: LocalRule[] = [];
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::Events::Rule' && r.Properties?.EventPattern !== undefined) {
      const targets = (r.Properties.Targets ?? []) as {
        Arn: unknown;
        Input?: string;
        InputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
      }[];
      rules.push({
        logicalId: id,
        eventPattern: resolve(r.Properties.EventPattern) as Record<string, unknown>,
        targets: targets.map((t) => ({
          arn: resolve(t.Arn) as string,
          ...(t.Input === undefined ? {} : { input: t.Input }),
          ...(t.InputTransformer === undefined ? {} : { inputTransformer: t.InputTransformer }),
        })),
      });
      continue;
    }
    if (r.Type === 'AWS::Lambda::Function' && r.Metadata?.[ENTRY_METADATA] !== undefined) {
      const arn = attribute(id, 'Arn');
      functions.set(arn, {
        logicalId: id,
        arn,
        entry: r.Metadata[ENTRY_METADATA],
        environment: resolve(r.Properties?.Environment?.Variables ?? {}) as Record<string, string>,
        ...(r.Metadata[STREAM_JOB_METADATA] === undefined ? {} : { streamJob: r.Metadata[STREAM_JOB_METADATA] }),
      });
    } else if (r.Type === 'AWS::StepFunctions::StateMachine') {
      const arn = physical(id);
      const definition = JSON.parse(resolve(r.Properties?.DefinitionString) as string) as Record<string, unknown>;
      stateMachines.set(arn, {
        logicalId: id,
        arn,
        name: id,
        type: r.Properties?.StateMachineType === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
        saga: r.Metadata?.[SAGA_METADATA]?.name,
        definition,
      });
    } else if (r.Type === 'AWS::DynamoDB::Table' && refs[id] === undefined) {
      tables.push({
        logicalId: id,
        name: tableName(id),
        keySchema: r.Properties?.KeySchema,
        attributeDefinitions: r.Properties?.AttributeDefinitions,
      });
    }
  }
  return { functions, stateMachines, tables, rules };
}
