import { CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { CfnFunction, FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { WEBSOCKET_CALLBACK_ENV } from '../../core/subscriptions/watchers.ts';

export interface WatchApiProps {
  /** The function serving `$connect`, `$disconnect`, `watch` and `unwatch` (functions/subscriptions/websocket.ts). */
  readonly websocket: NodejsFunction;
  /** The log-stream consumer that rings watchers (functions/subscriptions/dispatcher.ts). */
  readonly dispatcher: NodejsFunction;
  /** The table whose stream (INSERTs) rings the dispatcher. */
  readonly logTable: ITable;
  /** @default - generated */
  readonly apiName?: string;
  /**
   * Reserved concurrency of the dispatcher: a burst of appends cannot take the account's
   * concurrency from produce and fetch (one invocation per stream shard suffices).
   * @default 2
   */
  readonly dispatcherConcurrency?: number;
}

/**
 * The WebSocket API consumers wait on (the README's "Waiting for free"): `$connect` authorized
 * with IAM (SigV4 on the upgrade request; WebSocket APIs take IAM or a Lambda authorizer on
 * `$connect`, not JWT authorizers, and IAM is what the HTTP API uses by default), routes `watch`
 * and `unwatch` (route selection `$request.body.action`) whose answers go back to the client as
 * route responses, `$default` for anything else. The dispatcher reads the log table's stream
 * (INSERTs only) and may post only to this API's connections.
 */
export class WatchApi extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  /** `wss://…/<stage>`: what clients connect to (the `watch` option of the consumers). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: WatchApiProps) {
    super(scope, id);
    const integration = (name: string) => new WebSocketLambdaIntegration(name, props.websocket);
    this.api = new WebSocketApi(this, 'Api', {
      ...(props.apiName === undefined ? {} : { apiName: props.apiName }),
      routeSelectionExpression: '$request.body.action',
      connectRouteOptions: { integration: integration('ConnectIntegration'), authorizer: new WebSocketIamAuthorizer() },
      disconnectRouteOptions: { integration: integration('DisconnectIntegration') },
      defaultRouteOptions: { integration: integration('DefaultIntegration'), returnResponse: true },
    });
    for (const action of ['watch', 'unwatch'])
      this.api.addRoute(action, { integration: integration(`${action}RouteIntegration`), returnResponse: true });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: 'v1',
      autoDeploy: true,
      // A client sends a watch, an unwatch or a keep-alive now and then; nothing more is legitimate.
      throttle: { rateLimit: 100, burstLimit: 200 },
    });
    this.url = this.stage.url;
    Validations.of(this.stage).acknowledge({
      id: 'AwsSolutions-APIG1',
      reason:
        'WebSocket access logs need the account-wide API Gateway CloudWatch role, which one stack must not set for every API in the account; connections and doorbells are logged by the functions.',
    });
    for (const route of this.api.node.findAll())
      if (route.node.id.endsWith('-Route') && !route.node.id.startsWith('$connect'))
        Validations.of(route).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            'WebSocket APIs authorize the connection once, on $connect (IAM here); later messages travel on that authorized connection and cannot carry an authorizer.',
        });

    // The dispatcher: stream INSERTs (a batch appended) ring the watchers of its topic.
    props.dispatcher.addEnvironment(WEBSOCKET_CALLBACK_ENV, this.stage.callbackUrl);
    props.dispatcher.addToRolePolicy(
      new PolicyStatement({
        actions: ['execute-api:ManageConnections'],
        resources: [
          Stack.of(this).formatArn({
            service: 'execute-api',
            resource: this.api.apiId,
            resourceName: `${this.stage.stageName}/POST/@connections/*`,
          }),
        ],
      }),
    );
    (props.dispatcher.node.defaultChild as CfnFunction).reservedConcurrentExecutions = props.dispatcherConcurrency ?? 2;
    props.dispatcher.addEventSource(
      new DynamoEventSource(props.logTable, {
        startingPosition: StartingPosition.LATEST,
        batchSize: 100,
        maxBatchingWindow: Duration.millis(0), // a doorbell: as soon as possible
        retryAttempts: 2, // a lost doorbell is not lost records: clients poll once a minute anyway
        filters: [FilterCriteria.filter({ eventName: FilterRule.isEqual('INSERT') })],
      }),
    );
    Validations.of(props.dispatcher.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray (PutTraceSegments, PutTelemetryRecords) and dynamodb:ListStreams, which the stream event source needs, support no resource-level permissions.',
    });
    Validations.of(props.dispatcher.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${Stack.of(this).getLogicalId(this.api.node.defaultChild as never)}>/v1/POST/@connections/*]`,
      reason: 'Connection ids are generated by API Gateway; the grant is PostToConnection on this API and stage only.',
    });

    new CfnOutput(Stack.of(this), 'WatchUrl', {
      value: this.url,
      description: "The WebSocket API consumers wait on (the client's watch option)",
    });
  }
}
