import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';

process.env.AWS_EC2_METADATA_DISABLED = 'true';

/**
 * Synthesizes a stack with cdk-nag's AwsSolutions pack; synth throws on any unacknowledged
 * finding. `bundle: false` skips esbuild (assets are not what the test looks at). `directory` is
 * the cloud assembly's, where staged assets can be read.
 */
export function synthWithNag<S extends Stack>(
  configure: (app: App) => S,
  options: { bundle?: boolean } = {},
): { template: Template; stack: S; directory: string } {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'sluice-cdk-')),
    ...(options.bundle === false ? { context: { 'aws:cdk:bundling-stacks': [] } } : {}),
  });
  const stack = configure(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  const template = Template.fromJSON(JSON.parse(readFileSync(join(assembly.directory, stack.templateFile), 'utf8')));
  return { template, stack, directory: assembly.directory };
}

export type Resource = { Properties: Record<string, any>; Metadata?: Record<string, any> };

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** Each function's policy statements by its handler name (`Sluice <name> handler`). */
export function statementsByFunction(template: Template): Record<string, Statement[]> {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  const out: Record<string, Statement[]> = {};
  for (const fn of Object.values(template.findResources('AWS::Lambda::Function')) as Resource[]) {
    const name = /^Sluice (\w+) handler$/.exec(fn.Properties.Description ?? '')?.[1];
    if (name === undefined) continue;
    const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
    out[name] = policies
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
  }
  return out;
}

export const actionsOf = (s: Statement): string[] => ([] as string[]).concat(s.Action);

/** The HTTP API's routes (the WebSocket API's are in infra/subscriptions/watchApi.ts and its own test). */
export function httpRoutes(template: Template): Resource[] {
  const httpApis = Object.keys(
    template.findResources('AWS::ApiGatewayV2::Api', { Properties: { ProtocolType: 'HTTP' } }),
  );
  return (Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Resource[]).filter((r) =>
    httpApis.includes((r.Properties.ApiId as { Ref?: string }).Ref ?? ''),
  );
}
