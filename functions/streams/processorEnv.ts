/**
 * The job a `StreamProcessor` function is deployed for (its rights are on that job's state only):
 * the handler refuses to run another job under it. No module state, so the CDK app can import it.
 */
export const STREAM_JOB_ENV = 'SLUICE_STREAM_JOB';
