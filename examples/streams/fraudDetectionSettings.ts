/**
 * The fraud-detection job's deployment settings, shared by its handler module
 * (./fraudDetectionJob.ts), its construct (./fraudDetectionStack.ts) and the tests: plain
 * constants, so that neither pulls in the other (the handler must not bundle the CDK, the CDK app
 * must not load the handler's runtime).
 */
import { fraudJob } from './fraudDetection.ts';

export const FRAUD_DETECTOR = {
  /** The job's name: the key of its state. */
  name: 'fraud-detector',
  /** Records read from each partition per step (a step is one transaction). */
  maxRecords: 500,
} as const;

/** The topics the job reads and writes, to create before it runs (its source's partitions: the job's parallelism). */
export const FRAUD_TOPICS = [
  { name: fraudJob.source, partitions: 4 },
  { name: fraudJob.spec.sink.topic, partitions: 2 },
  { name: fraudJob.spec.lateTopic, partitions: 1 },
] as const;
