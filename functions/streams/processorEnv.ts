/**
 * The job a `StreamProcessor` function is deployed for (its rights are on that job's state only):
 * the handler refuses to run another job under it. No module state, so the CDK app can import it.
 */
export const STREAM_JOB_ENV = 'SLUICE_STREAM_JOB';

/**
 * The environment variable naming the DynamoDB table behind a job's table sink (`toTable(sink)`):
 * set by the `StreamProcessor` construct from its `tables`, read by the handler. A sink without
 * one writes to the table of its own name.
 */
export function sinkTableEnv(sink: string): string {
  return `SLUICE_SINK_TABLE_${sink.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}
