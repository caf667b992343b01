/**
 * The fraud-detection job (./fraudDetection.ts, unchanged) as a Lambda handler: what the
 * `FraudDetectionExample` construct deploys (./fraudDetectionStack.ts, declared by the CDK app
 * with `-c examples=true`), and what the local stack runs on a timer.
 */
import { streamProcessorHandler } from '../../functions/streams/processor.ts';
import { fraudJob } from './fraudDetection.ts';
import { FRAUD_DETECTOR } from './fraudDetectionSettings.ts';

export const handler = streamProcessorHandler(fraudJob, {
  name: FRAUD_DETECTOR.name,
  maxRecords: FRAUD_DETECTOR.maxRecords,
});
