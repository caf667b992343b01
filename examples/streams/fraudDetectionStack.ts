import { Construct } from 'constructs';
import { StreamProcessor } from '../../infra/streams/streamProcessor.ts';
import type { SluiceStack } from '../../infra/sluiceStack.ts';
import { fraudJob } from './fraudDetection.ts';
import { FRAUD_DETECTOR } from './fraudDetectionSettings.ts';

/**
 * The fraud-detection job deployed next to Sluice (`npx cdk deploy -c examples=true`): one
 * function running ./fraudDetectionJob.ts, rung when transactions are appended and every minute.
 * Create its topics first (FRAUD_TOPICS in ./fraudDetectionSettings.ts); until its source exists
 * it does nothing.
 */
export class FraudDetectionExample extends Construct {
  readonly processor: StreamProcessor;

  constructor(scope: Construct, id: string, props: { sluice: SluiceStack }) {
    super(scope, id);
    this.processor = new StreamProcessor(this, 'Processor', {
      sluice: props.sluice,
      entry: 'examples/streams/fraudDetectionJob.ts',
      name: FRAUD_DETECTOR.name,
      source: fraudJob.source,
    });
  }
}
