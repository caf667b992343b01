import { beforeAll, describe, expect, it } from 'vitest';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { SluiceStack } from '../../infra/sluiceStack.ts';
import { actionsOf, statementsByFunction, synthWithNag, type Resource } from './synthWithNag.ts';

/** The WebSocket API consumers wait on: routes, auth on $connect, the dispatcher and its rights. */
describe('WebSocket doorbells', () => {
  let template: Template;
  beforeAll(() => {
    template = synthWithNag((app) => new SluiceStack(app, 'WatchStack', { authorization: 'acl' }), {
      bundle: false,
    }).template;
  });

  const webSocketApiId = (): string => {
    const apis = template.findResources('AWS::ApiGatewayV2::Api', { Properties: { ProtocolType: 'WEBSOCKET' } });
    expect(Object.keys(apis)).toHaveLength(1);
    return Object.keys(apis)[0]!;
  };

  it('routes $connect (IAM), $disconnect, watch, unwatch and $default, answering messages with route responses', () => {
    const apiId = webSocketApiId();
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
    const routes = (Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Resource[]).filter(
      (r) => r.Properties.ApiId?.Ref === apiId,
    );
    const byKey = Object.fromEntries(routes.map((r) => [r.Properties.RouteKey as string, r.Properties]));
    expect(Object.keys(byKey).sort()).toStrictEqual(['$connect', '$default', '$disconnect', 'unwatch', 'watch']);
    expect(byKey.$connect!.AuthorizationType).toBe('AWS_IAM');
    for (const key of ['$default', 'watch', 'unwatch'])
      expect(byKey[key]!.RouteResponseSelectionExpression).toBe('$default');
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: { Ref: apiId },
      StageName: 'v1',
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: 100 }),
    });
    template.hasOutput('WatchUrl', {});
  });

  it('lets only the dispatcher post to connections, and only to this API and stage', () => {
    const apiId = webSocketApiId();
    const statements = statementsByFunction(template);
    for (const [fn, list] of Object.entries(statements)) {
      const manage = list.filter((s) => actionsOf(s).some((a) => a.startsWith('execute-api:')));
      if (fn !== 'subscriptionDispatcher') {
        expect(manage, `${fn} manages no connections`).toStrictEqual([]);
        continue;
      }
      expect(manage).toHaveLength(1);
      expect(actionsOf(manage[0]!)).toStrictEqual(['execute-api:ManageConnections']);
      const resource = JSON.stringify(manage[0]!.Resource);
      expect(resource).toContain(`{"Ref":"${apiId}"}`);
      expect(resource).toMatch(/\/v1\/POST\/@connections\/\*"\]\]\}$/);
    }
  });

  it('rings watchers from the subscription dispatcher (the log stream’s one consumer), and keys the websocket function’s items', () => {
    const fns = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: 'Sluice subscriptionDispatcher handler' },
    });
    const [dispatcherId, dispatcher] = Object.entries(fns)[0] as [string, Resource];
    expect(dispatcher.Properties.Environment.Variables.SLUICE_WEBSOCKET_CALLBACK_URL).toBeDefined();
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: dispatcherId },
      StartingPosition: 'LATEST',
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'] }) }] },
    });
    const statements = statementsByFunction(template);
    const keyed = (fn: string) =>
      statements[fn]!.filter((s) => s.Condition !== undefined)
        .map((s) => ({
          actions: actionsOf(s).sort(),
          keys: s.Condition!['ForAllValues:StringLike']!['dynamodb:LeadingKeys'],
        }))
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(keyed('websocket')).toStrictEqual([
      {
        actions: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        keys: ['ws#*', 'watch#*'],
      },
      { actions: ['dynamodb:GetItem'], keys: ['topic'] },
      { actions: ['dynamodb:Query'], keys: ['acl'] },
    ]);
    const websocket = Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { Description: 'Sluice websocket handler' } }),
    )[0] as Resource;
    expect(websocket.Properties.Environment.Variables.SLUICE_AUTHORIZATION).toBe('acl');
  });
});
