import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureTable } from '../core/adapters/dynamodb/createTables.ts';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../infra/sluiceFunction.ts';
import { STREAM_JOB_ENV } from '../functions/streams/processorEnv.ts';
import { RING_ON_APPEND_ENV } from '../functions/subscriptions/ringOnAppend.ts';
import {
  localResources,
  synthesizeTemplate,
  type LocalFunction,
  type LocalResources,
  type LocalRule,
} from './cloudAssembly.ts';
import { LocalStepFunctions, type Invoke } from './stepFunctions.ts';

/** Environment keys that differ per function and so are never copied into the shared process. */
const PER_FUNCTION_ENV = new Set([
  'NODE_OPTIONS',
  'SLUICE_SAGA_STEP',
  STREAM_JOB_ENV,
  // The dispatcher's: locally the saga trigger and stream jobs run on their own timers.
  RING_ON_APPEND_ENV,
]);

export interface LocalSagasOptions {
  readonly dynamo: DynamoDBClient;
  /** Sluice's own tables and bucket, already created locally. */
  readonly sluice: { readonly log: string; readonly metadata: string; readonly bucket: string };
  /** CDK context for the synthesis (as `cdk synth -c key=value`), e.g. `{ sagaType: 'EXPRESS' }`. */
  readonly context?: Readonly<Record<string, string>>;
  /** Prefix for the tables the template adds (an example's inventory and payments). */
  readonly tablePrefix: string;
  readonly retryIntervalMs?: number;
  /**
   * How often the saga trigger function runs (in AWS the log table's stream rings it on every
   * append); 0 runs it only through `LocalSagas.runTriggers()`. @default 500
   */
  readonly triggerIntervalMs?: number;
  /**
   * Wraps every Task call (tests inject faults here): gets the function, the payload and the real
   * invocation, and returns what the Task returns.
   */
  readonly intercept?: (
    call: { fn: LocalFunction; payload: unknown },
    invoke: () => Promise<unknown>,
  ) => Promise<unknown>;
}

export interface LocalSagas {
  readonly stepFunctions: LocalStepFunctions;
  readonly endpoint: string;
  readonly resources: LocalResources;
  /** Local table names by logical id (e.g. the order example's inventory and payments). */
  readonly tables: Readonly<Record<string, string>>;
  /** Runs the trigger function once now (what a stream event does in AWS). */
  runTriggers(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Sagas on one machine: synthesizes the CDK app, creates the tables it declares, copies its
 * functions' environment into this process, and serves its state machines through
 * `LocalStepFunctions`, each Task calling the handler module the function deploys.
 */
export async function startLocalSagas(options: LocalSagasOptions): Promise<LocalSagas> {
  const { template, sluiceIds } = synthesizeTemplate(options.context === undefined ? {} : { context: options.context });
  const refs: Record<string, string> = {
    [sluiceIds.log]: options.sluice.log,
    [sluiceIds.metadata]: options.sluice.metadata,
    [sluiceIds.bucket]: options.sluice.bucket,
  };
  const tables: Record<string, string> = {};
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::DynamoDB::Table' || refs[id] !== undefined) continue;
    tables[id] = refs[id] = `${options.tablePrefix}${id}`;
    await createTable(options.dynamo, tables[id], r.Properties!);
  }
  const resources = localResources(template, refs);
  applyEnvironment([...resources.functions.values()]);

  const modules = new Map<string, Promise<Record<string, unknown>>>();
  const call = async (fn: LocalFunction, payload: unknown): Promise<unknown> => {
    if (!modules.has(fn.entry.path))
      modules.set(fn.entry.path, import(join(PROJECT_ROOT, fn.entry.path)) as Promise<Record<string, unknown>>);
    const handler = (await modules.get(fn.entry.path)!)[fn.entry.export] as (
      event: unknown,
      context: unknown,
    ) => Promise<unknown>;
    try {
      return await handler(payload, {
        functionName: fn.logicalId,
        awsRequestId: crypto.randomUUID(),
        getRemainingTimeInMillis: () => 30_000,
      });
    } catch (e) {
      // As Lambda reports it: the error name is the error type, the cause is JSON without the stack.
      const name = e instanceof Error ? e.name : 'Error';
      const failure = new Error(
        JSON.stringify({ errorType: name, errorMessage: e instanceof Error ? e.message : String(e) }),
      );
      failure.name = name;
      throw failure;
    }
  };
  const invoke: Invoke = async (resource, payload) => {
    const fn = resources.functions.get(resource);
    if (fn === undefined) throw new Error(`No local function for ${resource}`);
    return options.intercept === undefined
      ? call(fn, payload)
      : options.intercept({ fn, payload }, () => call(fn, payload));
  };
  // EventBridge for the rules the template declares on service events (e.g. executions that stop).
  const onEvent = async (event: Record<string, unknown>): Promise<void> => {
    for (const rule of resources.rules) {
      if (!matches(rule.eventPattern, event)) continue;
      for (const target of rule.targets) await invoke(target.arn, targetInput(target, event));
    }
  };
  const stepFunctions = new LocalStepFunctions({
    stateMachines: resources.stateMachines,
    invoke,
    onEvent,
    ...(options.retryIntervalMs === undefined ? {} : { retryIntervalMs: options.retryIntervalMs }),
  });
  const endpoint = await stepFunctions.listen();
  process.env.AWS_ENDPOINT_URL_SFN = endpoint;

  // The trigger function, on a timer instead of the stream (one run at a time, as Lambda's
  // event source mapping does per shard).
  const triggerFn = [...resources.functions.values()].find((f) => f.entry.path === 'functions/sagas/trigger.ts');
  let running: Promise<void> | undefined;
  const runTriggers = async (): Promise<void> => {
    if (triggerFn === undefined) return;
    while (running !== undefined) await running;
    running = call(triggerFn, {})
      .then(() => undefined)
      .finally(() => (running = undefined));
    await running;
  };
  const interval = options.triggerIntervalMs ?? 500;
  const timer =
    triggerFn !== undefined && interval > 0
      ? setInterval(
          () => void (running ?? runTriggers().catch((e) => console.error('saga trigger failed:', e))),
          interval,
        )
      : undefined;
  timer?.unref();
  return {
    stepFunctions,
    endpoint,
    resources,
    tables,
    runTriggers,
    async stop() {
      clearInterval(timer);
      await running?.catch(() => {});
      await stepFunctions.close();
    },
  };
}

/** EventBridge pattern matching, for the subset rules here use: arrays list allowed values, objects nest. */
function matches(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.some((p) => p === value);
  if (typeof pattern !== 'object' || pattern === null) return pattern === value;
  if (typeof value !== 'object' || value === null) return false;
  return Object.entries(pattern).every(([k, p]) => matches(p, (value as Record<string, unknown>)[k]));
}

/** A target's input: the event, a constant, or the input transformer's template filled in. */
function targetInput(target: LocalRule['targets'][number], event: Record<string, unknown>): unknown {
  if (target.input !== undefined) return JSON.parse(target.input);
  const transformer = target.inputTransformer;
  if (transformer === undefined) return event;
  let text = transformer.InputTemplate;
  for (const [name, path] of Object.entries(transformer.InputPathsMap ?? {})) {
    const value = path
      .replace(/^\$\.?/, '')
      .split('.')
      .filter((p) => p !== '')
      .reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], event);
    text = text.split(`<${name}>`).join(JSON.stringify(value ?? null));
  }
  return JSON.parse(text);
}

/** One environment for every function in this process: values that would differ are an error. */
function applyEnvironment(functions: readonly LocalFunction[]): void {
  const merged: Record<string, string> = {};
  for (const fn of functions) {
    for (const [key, value] of Object.entries(fn.environment)) {
      if (PER_FUNCTION_ENV.has(key)) continue;
      if (merged[key] !== undefined && merged[key] !== value)
        throw new Error(
          `Functions disagree on ${key} (${merged[key]} and ${value}); the local stack runs them in one process`,
        );
      merged[key] = value;
    }
  }
  Object.assign(process.env, merged);
}

/** A table from the template's key schema, created as the stack's own tables are. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- template properties, untyped JSON
async function createTable(client: DynamoDBClient, name: string, properties: Record<string, any>): Promise<void> {
  const type = (attribute: string) =>
    (properties.AttributeDefinitions as { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[]).find(
      (a) => a.AttributeName === attribute,
    )!.AttributeType;
  const key = (kind: 'HASH' | 'RANGE') => {
    const k = (properties.KeySchema as { AttributeName: string; KeyType: string }[]).find((e) => e.KeyType === kind);
    return k === undefined ? undefined : { name: k.AttributeName, type: type(k.AttributeName) };
  };
  await ensureTable(client, name, key('HASH')!, key('RANGE'));
}
