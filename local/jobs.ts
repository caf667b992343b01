import { join } from 'node:path';
import { PROJECT_ROOT } from '../infra/sluiceFunction.ts';
import type { LocalFunction } from './cloudAssembly.ts';

export interface LocalJobsOptions {
  /** The synthesized app's functions; those of `StreamProcessor`s (with `streamJob`) are run. */
  readonly functions: Iterable<LocalFunction>;
  /**
   * How often each job's function runs (in AWS the log table's stream rings it on appends to its
   * source, and a schedule every minute); 0 runs it only through `LocalJobs.run()`. @default 500
   */
  readonly intervalMs?: number;
  /** The invocation's time budget (the function's timeout in AWS). @default 60000 */
  readonly timeoutMs?: number;
}

/** What one invocation of a job's function returned (functions/streams/processor.ts). */
export interface LocalJobRun {
  readonly job: string;
  readonly steps: number;
  readonly records: number;
  readonly outputs: number;
  readonly late: number;
  readonly conflicts: number;
  readonly outOfTime: boolean;
}

export interface LocalJobs {
  /** The jobs the app declares, by name, with their source topics. */
  readonly jobs: ReadonlyMap<string, { readonly source: string; readonly fn: LocalFunction }>;
  /**
   * Invokes a job's function now, after the run under way if any (one at a time, as its reserved
   * concurrency of 1 has it in AWS): what a ring does. Every job's when `name` is omitted.
   */
  run(name?: string): Promise<LocalJobRun[]>;
  stop(): Promise<void>;
}

/**
 * The stream jobs of the synthesized CDK app on one machine: each `StreamProcessor`'s handler
 * module, loaded in this process (whose environment the local stack set from the template, as
 * Lambda sets it), invoked on a timer instead of by the dispatcher's rings and the schedule. Jobs
 * run one invocation at a time each, side by side.
 */
export function startLocalJobs(options: LocalJobsOptions): LocalJobs {
  const jobs = new Map<string, { source: string; fn: LocalFunction }>();
  for (const fn of options.functions) {
    if (fn.streamJob === undefined) continue;
    if (jobs.has(fn.streamJob.name)) throw new Error(`Two StreamProcessors run job ${fn.streamJob.name}`);
    jobs.set(fn.streamJob.name, { source: fn.streamJob.source, fn });
  }
  const timeoutMs = options.timeoutMs ?? 60_000;
  const running = new Map<string, Promise<LocalJobRun>>();
  const reported = new Set<string>();

  const invoke = async (fn: LocalFunction): Promise<LocalJobRun> => {
    const module = (await import(join(PROJECT_ROOT, fn.entry.path))) as Record<string, unknown>;
    const handler = module[fn.entry.export] as (event: unknown, context: unknown) => Promise<LocalJobRun>;
    const deadline = Date.now() + timeoutMs;
    return handler(
      { source: 'local' },
      {
        functionName: fn.logicalId,
        awsRequestId: crypto.randomUUID(),
        getRemainingTimeInMillis: () => deadline - Date.now(),
      },
    );
  };
  const runOne = async (name: string): Promise<LocalJobRun> => {
    const job = jobs.get(name);
    if (job === undefined) throw new Error(`No stream job ${name} in the app (jobs: ${[...jobs.keys()].join(', ')})`);
    while (running.has(name)) await running.get(name)!.catch(() => undefined);
    const run = invoke(job.fn).finally(() => running.delete(name));
    running.set(name, run);
    return run;
  };

  const interval = options.intervalMs ?? 500;
  const timer =
    jobs.size > 0 && interval > 0
      ? setInterval(() => {
          for (const name of jobs.keys()) {
            if (running.has(name)) continue;
            runOne(name).catch((e: unknown) => {
              // Once per distinct failure: a job that keeps failing the same way would flood the console.
              const message = `stream job ${name} failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
              if (!reported.has(message)) console.error(message);
              reported.add(message);
            });
          }
        }, interval)
      : undefined;
  timer?.unref();

  return {
    jobs,
    run: (name) => (name === undefined ? Promise.all([...jobs.keys()].map(runOne)) : runOne(name).then((r) => [r])),
    async stop() {
      clearInterval(timer);
      await Promise.all([...running.values()].map((r) => r.catch(() => undefined)));
    },
  };
}
