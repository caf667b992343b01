/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy`. Context values set the stack's props:
 *   npx cdk deploy -c namePrefix=sluice-dev -c removalPolicy=destroy
 */
import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { SluiceStack } from './sluiceStack.ts';

const app = new App();
const context = (key: string): string | undefined => app.node.tryGetContext(key) as string | undefined;
const prefix = context('namePrefix');
new SluiceStack(app, context('stackName') ?? 'Sluice', {
  ...(prefix === undefined ? {} : { namePrefix: prefix }),
  removalPolicy: context('removalPolicy') === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
