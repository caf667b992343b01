import { StateMachine } from 'aws-local-stepfunctions';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalStateMachine } from './cloudAssembly.ts';

/** Runs one Task: the function at `resource` (an ARN) with `payload`. */
export type Invoke = (resource: string, payload: unknown) => Promise<unknown>;

type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED';

interface Execution {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: number;
  status: ExecutionStatus;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  readonly done: Promise<void>;
}

export interface LocalStepFunctionsOptions {
  readonly stateMachines: ReadonlyMap<string, LocalStateMachine>;
  readonly invoke: Invoke;
  /** Wait this many ms between retries instead of the definition's backoff (tests use 0). */
  readonly retryIntervalMs?: number;
  /** Where the EventBridge events Step Functions sends for Standard executions go. */
  readonly onEvent?: (event: Record<string, unknown>) => Promise<void>;
}

class ServiceError extends Error {
  readonly type: string;
  constructor(type: string, message: string) {
    super(message);
    this.type = type;
  }
}

/**
 * Step Functions on one machine: the state machines from the synthesized template, interpreted by
 * `aws-local-stepfunctions`, behind the service's own JSON protocol (StartExecution,
 * DescribeExecution), so the saga routes use the real SDK client pointed at `AWS_ENDPOINT_URL_SFN`.
 * Every Task state runs the same handler code its Lambda function deploys.
 *
 * Standard state machines keep AWS's name rule: the same name and input is the same execution,
 * the same name with another input is `ExecutionAlreadyExists`.
 */
export class LocalStepFunctions {
  private readonly options: LocalStepFunctionsOptions;
  private readonly executions = new Map<string, Execution>();
  private server: Server | undefined;

  constructor(options: LocalStepFunctionsOptions) {
    this.options = options;
  }

  startExecution(stateMachineArn: string, name: string, input: string): Execution {
    const machine = this.options.stateMachines.get(stateMachineArn);
    if (machine === undefined)
      throw new ServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${machine.type === 'EXPRESS' ? 'express' : 'execution'}:${machine.name}:${name}`;
    const existing = this.executions.get(executionArn);
    if (existing !== undefined && machine.type === 'STANDARD') {
      if (existing.input === input && existing.status === 'RUNNING') return existing;
      throw new ServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }
    const parsed = JSON.parse(input) as unknown;
    const handlers: Record<string, (payload: unknown) => Promise<unknown>> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    for (const [stateName, state] of Object.entries(
      machine.definition.States as Record<string, { Type: string; Resource?: string }>,
    )) {
      if (state.Type !== 'Task') continue;
      handlers[stateName] = (payload) => this.options.invoke(state.Resource!, payload);
      if (this.options.retryIntervalMs !== undefined) retryIntervalOverrides[stateName] = this.options.retryIntervalMs;
    }
    const run = new StateMachine(machine.definition as never).run(parsed as never, {
      overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
      context: {
        Execution: { Id: executionArn, Name: name, Input: parsed, StartTime: new Date().toISOString() },
        StateMachine: { Id: stateMachineArn, Name: machine.name },
      } as never,
    });
    const execution: Execution = {
      executionArn,
      stateMachineArn,
      name,
      input,
      startDate: Date.now(),
      status: 'RUNNING',
      done: run.result
        .then(
          (output) => {
            Object.assign(execution, { status: 'SUCCEEDED', output: JSON.stringify(output), stopDate: Date.now() });
          },
          (e: unknown) => {
            const failure =
              (e as { cause?: { name?: string; message?: string } }).cause ??
              (e as { name?: string; message?: string });
            Object.assign(execution, {
              status: 'FAILED',
              error: failure?.name ?? 'Error',
              cause: failure?.message ?? String(e),
              stopDate: Date.now(),
            });
          },
        )
        .then(() => (machine.type === 'STANDARD' ? this.statusChanged(execution) : undefined)),
    };
    this.executions.set(executionArn, execution);
    return execution;
  }

  /** "Step Functions Execution Status Change", as EventBridge receives it. */
  private async statusChanged(e: Execution): Promise<void> {
    await this.options
      .onEvent?.({
        version: '0',
        id: crypto.randomUUID(),
        'detail-type': 'Step Functions Execution Status Change',
        source: 'aws.states',
        account: LOCAL_ACCOUNT,
        time: new Date(e.stopDate ?? Date.now()).toISOString(),
        region: LOCAL_REGION,
        resources: [e.executionArn],
        detail: {
          executionArn: e.executionArn,
          stateMachineArn: e.stateMachineArn,
          name: e.name,
          status: e.status,
          startDate: e.startDate,
          stopDate: e.stopDate ?? null,
          input: e.input,
          output: e.output ?? null,
          error: e.error ?? null,
          cause: e.cause ?? null,
        },
      })
      .catch((err: unknown) => console.error('local EventBridge delivery failed:', err));
  }

  describeExecution(executionArn: string): Execution {
    const execution = this.executions.get(executionArn);
    if (execution === undefined)
      throw new ServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return execution;
  }

  /** Resolves when every execution started so far has finished. */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.executions.values()].filter((e) => e.status === 'RUNNING');
      if (running.length === 0) return;
      await Promise.all(running.map((e) => e.done));
    }
  }

  /** Serves the JSON protocol on 127.0.0.1; returns the endpoint for `AWS_ENDPOINT_URL_SFN`. */
  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await this.idle();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify(body));
    };
    try {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, string>;
      if (target === 'AWSStepFunctions.StartExecution') {
        const e = this.startExecution(body.stateMachineArn!, body.name!, body.input ?? '{}');
        return reply(200, { executionArn: e.executionArn, startDate: e.startDate / 1000 });
      }
      if (target === 'AWSStepFunctions.DescribeExecution') {
        const e = this.describeExecution(body.executionArn!);
        return reply(200, {
          executionArn: e.executionArn,
          stateMachineArn: e.stateMachineArn,
          name: e.name,
          status: e.status,
          startDate: e.startDate / 1000,
          input: e.input,
          ...(e.stopDate === undefined ? {} : { stopDate: e.stopDate / 1000 }),
          ...(e.output === undefined ? {} : { output: e.output }),
          ...(e.error === undefined ? {} : { error: e.error, cause: e.cause }),
        });
      }
      throw new ServiceError(
        'UnknownOperationException',
        `The local Step Functions serves StartExecution and DescribeExecution, not ${target}`,
      );
    } catch (e) {
      if (e instanceof ServiceError) return reply(400, { __type: e.type, message: e.message });
      return reply(500, { __type: 'InternalFailure', message: 'Internal failure' });
    }
  }
}
