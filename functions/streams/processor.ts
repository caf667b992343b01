import { InvalidArgument, TopicNotFound, isSluiceError } from '../../core/errors.ts';
import { DynamoJobStateStore } from '../../core/streams/dynamoJobStateStore.ts';
import { DynamoTableSink } from '../../core/streams/dynamoTableSink.ts';
import { StreamJob } from '../../core/streams/job.ts';
import { JobRunner } from '../../core/streams/runner.ts';
import { eventHandler } from '../eventHandler.ts';
import { STREAM_JOB_ENV, sinkTableEnv } from './processorEnv.ts';
import { client, logger, metrics, sluice, tables } from '../runtime.ts';

export interface StreamProcessorOptions {
  /**
   * The job's name: the key of its state (and of its rights, which the `StreamProcessor`
   * construct grants on `job#<name>` only). Two functions of one name are one job.
   */
  readonly name: string;
  /** Most records read from each input partition in one step (`RunOnceOptions.maxRecords`). @default 500 */
  readonly maxRecords?: number;
  /**
   * Time kept back from the function's timeout: no step starts when less than this is left, so
   * the step under way commits (or is abandoned whole) before Lambda stops the invocation.
   * @default 10_000 (ms)
   */
  readonly marginMs?: number;
}

/** What one invocation did (counts only: never record data). */
export interface StreamProcessorRun {
  readonly job: string;
  readonly steps: number;
  readonly records: number;
  readonly outputs: number;
  readonly late: number;
  readonly conflicts: number;
  /** True when it stopped for time with records possibly left (the next ring or the schedule goes on). */
  readonly outOfTime: boolean;
}

const DEFAULT_MARGIN_MS = 10_000; // a step is a read per partition and one transaction: seconds at worst
const KNOWN_OPTIONS = ['name', 'maxRecords', 'marginMs'];

/**
 * The Lambda handler that runs a stream job (`stream(…)…to(topic)`) over Sluice's tables: each
 * invocation runs `JobRunner.runOnce` step after step until a step finds no input left, or until
 * less than `marginMs` of the invocation remains. Every step commits its outputs, late records and
 * the job's state in one DynamoDB transaction (see runner.ts), so an invocation cut short, retried
 * or run twice at once never writes an output twice.
 *
 * Deploy it with the `StreamProcessor` construct (infra/streams/streamProcessor.ts): the log
 * table's stream rings it (through the dispatcher) when an append touches the job's source topic,
 * and a schedule runs it as a backstop (idle partitions let windows fire on that clock too).
 * The local stack runs the same module on a timer.
 *
 * One job is ONE runner: its state (watermark, every partition's next offset, every key's windows)
 * is one consistent unit, committed whole. "Parallel across partitions" means each step reads all
 * of the source's partitions concurrently; state is per job, not per partition, so the construct
 * gives the function a reserved concurrency of 1 (two invocations at once would be correct, the
 * state's version refusing one of them, but would waste the loser's work).
 *
 * Logs and metrics carry counts only, never record data.
 *
 * @example
 * // examples/streams/fraudDetectionJob.ts
 * export const handler = streamProcessorHandler(fraudJob, { name: 'fraud-detector' });
 */
export function streamProcessorHandler(job: StreamJob, options: StreamProcessorOptions) {
  if (!(job instanceof StreamJob))
    throw new InvalidArgument('job', 'job must be a StreamJob, as stream(…)…to(topic) returns');
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgument('options', 'options must be an object with the job’s name');
  const unknown = Object.keys(options).find((k) => !KNOWN_OPTIONS.includes(k));
  if (unknown !== undefined)
    throw new InvalidArgument(
      `options.${unknown}`,
      `${unknown} is not an option; the options are ${KNOWN_OPTIONS.join(', ')}`,
    );
  const marginMs = options.marginMs ?? DEFAULT_MARGIN_MS;
  if (!Number.isSafeInteger(marginMs) || marginMs < 0)
    throw new InvalidArgument('marginMs', 'marginMs must be a non-negative integer of milliseconds');
  const { name } = options;
  // Validates the name (and maxRecords at the first step) as the runner does.
  // A table sink's physical table, from the environment the construct set (else the sink's own name).
  const sinks = job.spec.tables.map((t) => t.table);
  const runner = new JobRunner({
    sluice,
    store: new DynamoJobStateStore({ client, table: tables.metadata }),
    job,
    name,
    ...(sinks.length === 0
      ? {}
      : {
          tables: new DynamoTableSink({
            tables: Object.fromEntries(sinks.map((sink) => [sink, process.env[sinkTableEnv(sink)] ?? sink])),
          }),
        }),
  });
  let warnedNoSource = false; // once per container: the schedule would repeat it every minute

  return eventHandler(async (_event: unknown, context): Promise<StreamProcessorRun> => {
    const deployedFor = process.env[STREAM_JOB_ENV];
    if (deployedFor !== undefined && deployedFor !== '' && deployedFor !== name) {
      // Its rights are on job#<deployedFor> only: every commit would be denied.
      throw new InvalidArgument(
        'name',
        `This function is deployed for job ${deployedFor} but its module runs job ${name}; give the StreamProcessor construct and streamProcessorHandler the same name`,
      );
    }
    const deadline = Date.now() + (context.getRemainingTimeInMillis?.() ?? 60_000) - marginMs;
    const run = { job: name, steps: 0, records: 0, outputs: 0, late: 0, conflicts: 0, outOfTime: false };
    for (;;) {
      if (Date.now() >= deadline) {
        run.outOfTime = true;
        break;
      }
      let step;
      try {
        step = await runner.runOnce({
          ...(options.maxRecords === undefined ? {} : { maxRecords: options.maxRecords }),
        });
      } catch (e) {
        // No source topic yet: nothing to read, and no state to keep. The schedule tries again.
        if (isSluiceError(e, TopicNotFound.name) && e.topic === job.source && run.steps === 0) {
          if (!warnedNoSource)
            logger.warn('Stream job source topic does not exist yet', { job: name, topic: job.source });
          warnedNoSource = true;
          break;
        }
        throw e;
      }
      run.conflicts += step.conflicts;
      if (step.committed) run.steps++;
      run.records += step.records;
      run.outputs += step.outputs;
      run.late += step.late;
      // A step that read nothing has done what there was (a commit then only moved the watermark).
      if (step.records === 0) break;
    }
    if (run.steps > 0 || run.conflicts > 0 || run.outOfTime) logger.info('Stream job ran', { ...run });
    metrics.addMetric('StreamJobInvocations', 'Count', 1);
    count(name, 'StreamJobRecords', run.records); // 0 too: a steady series
    count(name, 'StreamJobOutputs', run.outputs);
    count(name, 'StreamJobLateRecords', run.late);
    count(name, 'StreamJobConflicts', run.conflicts);
    return run;
  });
}

/** One metric with the job as its dimension (a single metric: the dimension applies to it alone). */
function count(job: string, metric: string, value: number): void {
  const single = metrics.singleMetric();
  single.addDimension('Job', job);
  single.addMetric(metric, 'Count', value);
}
