/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy`. Context values set the stack's props:
 *   npx cdk deploy -c namePrefix=sluice-dev -c removalPolicy=destroy -c examples=true
 * `expressZone=use1-az4` (an Availability Zone ID) adds the S3 Express One Zone directory bucket
 * that `storage: "s3-express"` topics need.
 * `examples=true` adds the order saga example (its tables, functions and state machine) and the
 * fraud-detection stream job (a StreamProcessor).
 * The local stack builds the same app with `buildApp` and reads the synthesized template.
 */
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { pathToFileURL } from 'node:url';
import { OrderSagaExample } from '../examples/order-saga/stack.ts';
import { FraudDetectionExample } from '../examples/streams/fraudDetectionStack.ts';
import { SluiceStack } from './sluiceStack.ts';

export const DEFAULT_STACK_NAME = 'Sluice';

export function buildApp(app: App): SluiceStack {
  const context = (key: string): string | undefined => app.node.tryGetContext(key) as string | undefined;
  const prefix = context('namePrefix');
  const removalPolicy = context('removalPolicy') === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
  const expressZone = context('expressZone');
  const stack = new SluiceStack(app, context('stackName') ?? DEFAULT_STACK_NAME, {
    ...(prefix === undefined ? {} : { namePrefix: prefix }),
    ...(expressZone === undefined ? {} : { expressZone }),
    removalPolicy,
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  if (String(context('examples')) === 'true') {
    const type = context('sagaType') === 'EXPRESS' ? 'EXPRESS' : 'STANDARD';
    new OrderSagaExample(stack, 'OrderSaga', { sluice: stack, type, removalPolicy });
    new FraudDetectionExample(stack, 'FraudDetection', { sluice: stack });
  }
  return stack;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const app = new App();
  buildApp(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}
