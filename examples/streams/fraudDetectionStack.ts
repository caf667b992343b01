import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { StreamProcessor } from '../../infra/streams/streamProcessor.ts';
import type { SluiceStack } from '../../infra/sluiceStack.ts';
import { fraudJob } from './fraudDetection.ts';
import { FRAUD_DETECTOR } from './fraudDetectionSettings.ts';

/**
 * The fraud-detection job deployed next to Sluice (`npx cdk deploy -c examples=true`): one
 * function running ./fraudDetectionJob.ts, rung when transactions are appended and every minute,
 * and the table its alerts are upserted into (by user and window: the job's `toTable`). Create its
 * topics first (FRAUD_TOPICS in ./fraudDetectionSettings.ts); until its source exists it does nothing.
 */
export class FraudDetectionExample extends Construct {
  readonly processor: StreamProcessor;
  readonly alerts: Table;

  constructor(scope: Construct, id: string, props: { sluice: SluiceStack; removalPolicy?: RemovalPolicy }) {
    super(scope, id);
    this.alerts = new Table(this, 'Alerts', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.processor = new StreamProcessor(this, 'Processor', {
      sluice: props.sluice,
      entry: 'examples/streams/fraudDetectionJob.ts',
      name: FRAUD_DETECTOR.name,
      source: fraudJob.source,
      tables: Object.fromEntries(fraudJob.spec.tables.map((t) => [t.table, this.alerts])),
    });
  }
}
