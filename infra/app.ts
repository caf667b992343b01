/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy`. Context values set the stack's props:
 *   npx cdk deploy -c namePrefix=sluice-dev -c removalPolicy=destroy -c examples=true
 * `expressZone=use1-az4` (an Availability Zone ID) adds the S3 Express One Zone directory bucket
 * that `storage: "s3-express"` topics need.
 * `examples=true` adds the order saga example (its tables, functions and state machine) and the
 * fraud-detection stream job (a StreamProcessor).
 * `console=true` deploys the web console (the `console` prop): the app first builds it with
 * `npm run build:console` (`-c consoleBuild=false` deploys console/dist as it is, `-c consoleAssets=DIR`
 * a build elsewhere); `-c consoleDomainPrefix=…` names its Cognito hosted UI domain.
 * The local stack builds the same app with `buildApp` and reads the synthesized template.
 */
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { pathToFileURL } from 'node:url';
import { OrderSagaExample } from '../examples/order-saga/stack.ts';
import { FraudDetectionExample } from '../examples/streams/fraudDetectionStack.ts';
import { buildConsole } from './console/buildConsole.ts';
import { SluiceStack } from './sluiceStack.ts';

export const DEFAULT_STACK_NAME = 'Sluice';

/**
 * Whether the app deploys the console: context `console=true` (`-c console=true`, or cdk.json).
 * Context only, not an environment variable, so that the local stack's synth (which builds this
 * app with its own context) never picks it up.
 */
export function consoleEnabled(app: App): boolean {
  return String(app.node.tryGetContext('console')) === 'true';
}

export function buildApp(app: App): SluiceStack {
  const context = (key: string): string | undefined => app.node.tryGetContext(key) as string | undefined;
  const prefix = context('namePrefix');
  const removalPolicy = context('removalPolicy') === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
  const expressZone = context('expressZone');
  const consoleProps = {
    ...(context('consoleDomainPrefix') === undefined ? {} : { domainPrefix: context('consoleDomainPrefix') }),
    ...(context('consoleAssets') === undefined ? {} : { assetsPath: context('consoleAssets') }),
  };
  const stack = new SluiceStack(app, context('stackName') ?? DEFAULT_STACK_NAME, {
    ...(prefix === undefined ? {} : { namePrefix: prefix }),
    ...(expressZone === undefined ? {} : { expressZone }),
    removalPolicy,
    ...(consoleEnabled(app) ? { console: consoleProps } : {}),
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
  const prebuilt =
    String(app.node.tryGetContext('consoleBuild')) === 'false' || app.node.tryGetContext('consoleAssets') !== undefined;
  if (consoleEnabled(app) && !prebuilt) buildConsole();
  buildApp(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}
