import { Token, type Stack } from 'aws-cdk-lib';

/**
 * The account and region as cdk-nag writes them in a finding's id (`AwsSolutions-IAM5[Resource::…]`):
 * the stack's own when its environment is concrete (as `cdk deploy` makes it, from the caller's
 * credentials), else the pseudo parameters. An acknowledgement naming a resource must use them, or
 * it matches in an environment-agnostic synth (the tests) and not in a real deploy.
 */
export function nagEnvironment(stack: Stack): { readonly account: string; readonly region: string } {
  return {
    account: Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account,
    region: Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region,
  };
}
