import { describe, expect, it } from 'vitest';
import { aclRule } from '../support/acls.ts';
import { isSluiceError } from '../../core/errors.ts';
import { AclIndex, aclId, parseAclRule, type Access } from '../../core/security/acl.ts';
import { MemoryAclStore } from '../../core/security/aclStore.ts';
import { Authorizer, type Decision } from '../../core/security/authorizer.ts';
import { callerOf } from '../../functions/http/caller.ts';
import { apiEvent } from '../support/apiEvents.ts';
import { thrownBy } from '../support/thrownBy.ts';

const rule = aclRule;
const topic = (operation: Access['operation'], name: string): Access => ({
  operation,
  resourceType: 'topic',
  resourceName: name,
});

describe('ACL decisions', () => {
  it('matches literal names, "*", prefixes, the principal or "*", and resource types apart', () => {
    const index = new AclIndex([
      rule(),
      rule({ resourceName: 'audit.', patternType: 'prefixed', operation: 'write' }),
      rule({ principal: '*', resourceName: '*', operation: 'describe' }),
      rule({ resourceType: 'group', resourceName: 'orders', operation: 'all' }),
    ]);
    const alice = ['jwt:alice'];
    expect(index.decide(alice, topic('read', 'orders'))).toBe('allow');
    expect(index.decide(alice, topic('read', 'orders2')), 'literal is exact').toBe('none');
    expect(index.decide(['jwt:bob'], topic('read', 'orders')), 'another principal').toBe('none');
    expect(index.decide(alice, topic('write', 'audit.payments'))).toBe('allow');
    expect(index.decide(alice, topic('write', 'audit'))).toBe('none');
    expect(index.decide(['jwt:bob'], topic('describe', 'anything')), 'principal and name "*"').toBe('allow');
    expect(index.decide(alice, { operation: 'delete', resourceType: 'group', resourceName: 'orders' })).toBe('allow');
    expect(index.decide(alice, topic('delete', 'orders')), 'the group rule is not a topic rule').toBe('none');
    expect(index.decide(['anonymous'], topic('read', 'orders'))).toBe('none');
  });

  it('lets deny win, and read, write, delete or alter imply describe (deny does not spread)', () => {
    const index = new AclIndex([
      rule({ resourceName: 'pay', patternType: 'prefixed', operation: 'all' }),
      rule({ resourceName: 'payroll', permission: 'deny', operation: 'read' }),
      rule({ principal: 'claim:cognito:groups=auditors', resourceName: '*', operation: 'all', permission: 'deny' }),
      rule({ resourceName: 'orders', operation: 'write' }),
    ]);
    expect(index.decide(['jwt:alice'], topic('read', 'payments'))).toBe('allow');
    expect(index.decide(['jwt:alice'], topic('read', 'payroll')), 'deny wins over a wider allow').toBe('deny');
    expect(index.decide(['jwt:alice'], topic('write', 'payroll')), 'only the denied operation').toBe('allow');
    expect(index.decide(['jwt:alice', 'claim:cognito:groups=auditors'], topic('describe', 'payments'))).toBe('deny');
    expect(index.decide(['jwt:alice'], topic('describe', 'orders')), 'write implies describe').toBe('allow');
    expect(index.decide(['jwt:alice'], topic('read', 'orders')), 'but not read').toBe('none');
  });

  it('parses rules field by field, with defaults, and refuses anything else with a typed error', () => {
    expect(
      parseAclRule({
        principal: 'iam:arn:aws:iam::123456789012:role/App',
        resourceType: 'topic',
        resourceName: 'o',
        operation: 'write',
      }),
    ).toStrictEqual({
      principal: 'iam:arn:aws:iam::123456789012:role/App',
      resourceType: 'topic',
      resourceName: 'o',
      patternType: 'literal',
      operation: 'write',
      permission: 'allow',
    });
    const bad: [unknown, string][] = [
      [null, 'body'],
      [[], 'body'],
      [{ ...rule(), extra: 1 }, 'extra'],
      [{ ...rule(), principal: 'alice' }, 'principal'],
      [{ ...rule(), principal: 'jwt:has space' }, 'principal'],
      [{ ...rule(), principal: 'claim:nameonly' }, 'principal'],
      [{ ...rule(), resourceType: 'Topic' }, 'resourceType'],
      [{ ...rule(), resourceName: '' }, 'resourceName'],
      [{ ...rule(), resourceName: 'x'.repeat(513) }, 'resourceName'],
      [{ ...rule(), resourceName: 'a\nb' }, 'resourceName'],
      [{ ...rule(), patternType: 'glob' }, 'patternType'],
      [{ ...rule(), operation: 'READ' }, 'operation'],
      [{ ...rule(), permission: 'maybe' }, 'permission'],
      [{ ...rule(), resourceType: 'cluster', resourceName: 'other' }, 'resourceName'],
    ];
    for (const [input, field] of bad) {
      const e = thrownBy(() => parseAclRule(input));
      expect(isSluiceError(e, 'InvalidArgument') && e.field, JSON.stringify(input)).toBe(field);
    }
    expect(aclId(rule())).toBe(aclId({ ...rule() }));
    expect(aclId(rule())).not.toBe(aclId(rule({ permission: 'deny' })));
  });
});

describe('Authorizer', () => {
  it('reads the rules at most once per cache period, shares a read among concurrent checks, and sees changes after it', async () => {
    const store = new MemoryAclStore();
    let now = 0;
    const authorizer = new Authorizer({ mode: 'acl', store, cacheMs: 5_000, now: () => now });
    const alice = { principals: ['jwt:alice'] };
    await Promise.all(Array.from({ length: 20 }, () => authorizer.allows(alice, topic('read', 'orders'))));
    expect(store.listed, 'one read for twenty concurrent checks').toBe(1);
    await store.putAcl(rule());
    now = 4_999;
    expect(await authorizer.allows(alice, topic('read', 'orders')), 'cached: not yet').toBe(false);
    now = 5_000;
    expect(await authorizer.allows(alice, topic('read', 'orders'))).toBe(true);
    expect(store.listed).toBe(2);
    await store.deleteAcl(rule());
    authorizer.invalidate();
    expect(await authorizer.allows(alice, topic('read', 'orders')), 'invalidated').toBe(false);
  });

  it('refuses with NotAuthorized naming the operation and resource; lets super users and open mode through; audits admin actions and refusals', async () => {
    const store = new MemoryAclStore();
    await store.putAcl(rule({ operation: 'all' }));
    const decisions: Decision[] = [];
    const authorizer = new Authorizer({
      mode: 'acl',
      store,
      superUsers: ['iam:arn:aws:iam::123456789012:role/Admin'],
      onDecision: (d) => decisions.push(d),
    });
    const alice = { principals: ['jwt:alice'] };
    await authorizer.authorize(alice, [topic('read', 'orders')]);
    expect(decisions, 'a read that is allowed is not an audit line').toStrictEqual([]);
    const e = await authorizer.authorize(alice, [topic('read', 'orders'), topic('write', 'payments')]).catch((x) => x);
    expect(isSluiceError(e, 'NotAuthorized')).toBe(true);
    expect(e.toJSON()).toMatchObject({ operation: 'write', resourceType: 'topic', resourceName: 'payments' });
    await authorizer.authorize(alice, [topic('delete', 'orders')]);
    await authorizer.authorize({ principals: ['iam:arn:aws:iam::123456789012:role/Admin'] }, [
      { operation: 'alter', resourceType: 'cluster', resourceName: 'sluice' },
    ]);
    expect(decisions.map((d) => [d.principal, d.access.operation, d.allowed, d.reason])).toStrictEqual([
      ['jwt:alice', 'write', false, 'noRule'],
      ['jwt:alice', 'delete', true, 'allowed'],
      ['iam:arn:aws:iam::123456789012:role/Admin', 'alter', true, 'superUser'],
    ]);
    const open = new Authorizer({ mode: 'open', store });
    expect(await open.allows({ principals: ['anonymous'] }, topic('delete', 'anything'))).toBe(true);
    expect(store.listed, 'open mode never reads rules').toBe(1);
  });
});

describe('callers from the authorizer context', () => {
  it('names an IAM caller by its ARN and an assumed role by its role too', () => {
    const event = apiEvent({ method: 'GET', route: '/v1/topics' }); // the recorded SigV4 call
    expect(callerOf(event, []).principals).toStrictEqual([
      'iam:arn:aws:sts::123456789012:assumed-role/orders-service/producer',
      'iam:arn:aws:iam::123456789012:role/orders-service',
    ]);
  });

  it('names a JWT caller by its subject and the claims the stack names, and anyone else anonymous', () => {
    const event = apiEvent({ method: 'GET', route: '/v1/topics' });
    const jwt = (claims: Record<string, unknown>) => ({
      ...event,
      requestContext: { ...event.requestContext, authorizer: { jwt: { claims, scopes: null } } },
    });
    expect(
      callerOf(
        jwt({ sub: 'u-1', 'cognito:groups': '[admins ops]', scope: 'sluice/produce sluice/consume', email: 'a@b' }),
        ['cognito:groups', 'scope'],
      ).principals,
    ).toStrictEqual([
      'jwt:u-1',
      'claim:cognito:groups=admins',
      'claim:cognito:groups=ops',
      'claim:scope=sluice/produce',
      'claim:scope=sluice/consume',
    ]);
    expect(callerOf(jwt({ sub: 'u-2', groups: ['a', 'b'] }), ['groups']).principals).toStrictEqual([
      'jwt:u-2',
      'claim:groups=a',
      'claim:groups=b',
    ]);
    const none = { ...event, requestContext: { ...event.requestContext, authorizer: undefined } };
    expect(callerOf(none as never, []).principals).toStrictEqual(['anonymous']);
  });
});
