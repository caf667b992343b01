import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { parseSubscription, type Subscription as Definition } from '../../core/subscriptions/subscription.ts';

/** A subscription's settings other than its name, topic and target (see the README's Subscriptions). */
export type SubscriptionSettings = Partial<
  Pick<
    Definition,
    | 'filter'
    | 'batchSize'
    | 'maxBatchingWindowMs'
    | 'startingPosition'
    | 'ordering'
    | 'maxRetries'
    | 'backoff'
    | 'maxRecordAgeMs'
    | 'onFailure'
    | 'parallelismPerPartition'
    | 'paused'
  >
>;

/** A subscription declared with the stack: a Lambda function, or an HTTPS endpoint signed with a secret. */
export interface SubscriptionDeclaration extends SubscriptionSettings {
  readonly name: string;
  readonly topic: string;
  readonly target: { readonly function: IFunction } | { readonly url: string; readonly secret?: ISecret };
}

/** What a stack does for a declared subscription (`SluiceStack` implements it). */
export interface SubscriptionHost {
  addSubscriptionTarget(target: IFunction): void;
  addSubscriptionSecret(secret: ISecret): void;
  /** Adds the definition to the catalog the dispatcher creates (or brings up to date) on its runs. */
  declareSubscription(definition: Record<string, unknown>): void;
}

/**
 * A subscription deployed with the stack (`new Subscription(stack, 'Billing', {...})`, or the
 * stack prop `subscriptions`): the dispatcher may invoke its function (only that one) or read its
 * signing secret (only that one), and creates the subscription on its first run (a definition
 * changed here is applied on the next deploy's first run; one removed here is left in place, as a
 * subscription created over HTTP is: delete it with the API).
 */
export class Subscription extends Construct {
  readonly definition: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: SubscriptionDeclaration & { readonly stack: SubscriptionHost }) {
    super(scope, id);
    const { stack, target, ...settings } = props;
    let wire: Record<string, unknown>;
    if ('function' in target) {
      stack.addSubscriptionTarget(target.function);
      wire = { type: 'lambda', functionName: target.function.functionName };
    } else {
      if (target.secret !== undefined) stack.addSubscriptionSecret(target.secret);
      wire = {
        type: 'https',
        url: target.url,
        ...(target.secret === undefined ? {} : { secret: target.secret.secretArn }),
      };
    }
    this.definition = { ...settings, target: wire };
    // Checked now, at synth, as the API would check it (placeholders stand in for tokens).
    const url = 'url' in target && !target.url.includes('${Token') ? target.url : 'https://example.com/';
    parseSubscription(
      {
        ...this.definition,
        target: wire.type === 'lambda' ? { type: 'lambda', functionName: 'checked-at-deploy' } : { type: 'https', url },
      },
      0,
    );
    stack.declareSubscription(this.definition);
  }
}
