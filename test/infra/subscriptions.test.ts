import { describe, expect, it } from 'vitest';
import { Match } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Validations } from 'aws-cdk-lib';
import { SluiceStack } from '../../infra/sluiceStack.ts';
import { Subscription } from '../../infra/subscriptions/subscription.ts';
import { synthWithNag } from './synthWithNag.ts';

describe('subscription targets', () => {
  it('grants the dispatcher invoke on an added target function only, and read on an added signing secret only', () => {
    const { template } = synthWithNag(
      (app) => {
        const stack = new SluiceStack(app, 'Sluice');
        // Targets: functions of the stack itself (nag-clean), one granted and one not.
        const billing = stack.functions.topics;
        const secret = new Secret(stack, 'HookKey');
        Validations.of(secret).acknowledge({
          id: 'AwsSolutions-SMG4',
          reason: 'a webhook signing key, rotated by its owner',
        });
        stack.addSubscriptionTarget(billing);
        stack.addSubscriptionSecret(secret);
        return stack;
      },
      { bundle: false },
    );
    const dispatcherRole = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Description: 'Sluice subscriptionDispatcher handler' },
      }),
    )[0] as { Properties: { Role: { 'Fn::GetAtt': [string, string] } } };
    const roleId = dispatcherRole.Properties.Role['Fn::GetAtt'][0];
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
      Properties: {
        Roles: { Ref: string }[];
        PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] };
      };
    }[];
    const statements = policies
      .filter((p) => p.Properties.Roles.some((r) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const invoke = statements.filter((s) => ([] as string[]).concat(s.Action).includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(1);
    const resource = JSON.stringify(invoke[0]!.Resource);
    expect(resource).toMatch(/FunctionTopics|Topics/);
    expect(resource).not.toMatch(/Fetch/);
    const secrets = statements.filter((s) =>
      ([] as string[]).concat(s.Action).includes('secretsmanager:GetSecretValue'),
    );
    expect(JSON.stringify(secrets.map((s) => s.Resource))).toMatch(/HookKey/);
    // No other role may invoke the target.
    const others = policies.filter(
      (p) => !p.Properties.Roles.some((r) => r.Ref === roleId) && JSON.stringify(p).includes('lambda:InvokeFunction'),
    );
    expect(others.map((p) => JSON.stringify(p.Properties.PolicyDocument)).join()).not.toMatch(/Topics/);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('subscriptionDispatcher'),
    });
  });
});

describe('Subscription construct', () => {
  it('declares a subscription for the dispatcher to create, granting it invoke on its function', () => {
    const { template } = synthWithNag(
      (app) => {
        const stack = new SluiceStack(app, 'Sluice', {
          subscriptions: [{ name: 'audit', topic: 'orders', target: { url: 'https://hooks.example.com/audit' } }],
        });
        new Subscription(stack, 'Billing', {
          stack,
          name: 'billing',
          topic: 'orders',
          target: { function: stack.functions.fetch },
          ordering: 'key',
          parallelismPerPartition: 2,
        });
        return stack;
      },
      { bundle: false },
    );
    const dispatcher = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Description: 'Sluice subscriptionDispatcher handler' },
      }),
    )[0] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
    const catalog = JSON.stringify(dispatcher.Properties.Environment.Variables.SLUICE_SUBSCRIPTIONS);
    expect(catalog).toContain('billing');
    expect(catalog).toContain('audit');
    expect(catalog).toContain('parallelismPerPartition');
    expect(catalog).toMatch(/FunctionFetch|Fetch/);
    const invokes = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(invokes).toContain('lambda:InvokeFunction');
  });

  it('refuses a bad declaration at synth, as the API would', () => {
    expect(() =>
      synthWithNag(
        (app) =>
          new SluiceStack(app, 'Sluice', {
            subscriptions: [
              { name: 'bad', topic: 'orders', target: { url: 'https://x.example.com/' }, parallelismPerPartition: 3 },
            ],
          }),
        { bundle: false },
      ),
    ).toThrow(/parallelismPerPartition/);
  });
});
