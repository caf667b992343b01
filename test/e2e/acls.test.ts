import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Admin, GroupConsumer, Producer, isSluiceApiError } from '../../client/index.ts';
import { startLocalGateway } from '../../local/gateway.ts';
import { loadHttpHandlers, type LocalStack } from '../../local/stack.ts';
import { runNode, startTestStack } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/**
 * ACLs over HTTP on the local stack in `acl` mode (`npm start -- --authorization acl --admin
 * jwt:root --trust-principal-header`): the CLI manages rules, the client and CLI act as principals,
 * refusals are typed. Always the local stack: a deployed API's identities come from its authorizer.
 */
describe('ACL authorization over HTTP', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startTestStack('acls', {
      authorization: 'acl',
      adminPrincipals: ['jwt:root'],
      trustPrincipalHeader: true,
    });
  });
  afterAll(() => stack?.stop());

  const cli = (as: string, args: string[], stdin?: string) =>
    runNode('bin/sluice.mjs', ['--url', stack.url, '--as', as, ...args], stdin);
  const admin = () => new Admin({ url: stack.url, auth: { principal: 'jwt:root' } });

  it('an admin grants with `sluice acls`; the granted principal produces and consumes, others are refused, and a removed rule stops it', async () => {
    const topic = uniqueName('payments');
    const group = uniqueName('billing');
    await admin().createTopic(topic, { partitions: 2 });

    const grants = [
      ['jwt:alice', 'write', 'topic', topic],
      ['jwt:alice', 'read', 'topic', topic],
      ['jwt:alice', 'read', 'group', group],
    ];
    for (const g of grants) {
      const added = await cli('jwt:root', ['acls', 'add', ...g]);
      expect(added.code, added.stderr).toBe(0);
      expect(added.stdout).toMatch(/^Added [0-9a-f]{32}/);
    }
    expect((await cli('jwt:root', ['acls', 'add', ...grants[0]!])).stdout, 'adding again').toMatch(/^Exists/);
    const listed = await cli('jwt:root', ['acls', 'list', '--principal', 'jwt:alice', '--json']);
    expect(
      JSON.parse(listed.stdout)
        .map((r: { operation: string }) => r.operation)
        .sort(),
    ).toStrictEqual(['read', 'read', 'write']);

    // Alice produces with the client and consumes in a group: the poll checks her topic read too.
    const producer = new Producer({ url: stack.url, auth: { principal: 'jwt:alice' } });
    await producer.sendBatch(
      topic,
      Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: i })),
    );
    await producer.close();
    const consumer = new GroupConsumer({
      url: stack.url,
      auth: { principal: 'jwt:alice' },
      groupId: group,
      topics: [topic],
      autoOffsetReset: 'earliest',
      waitMs: 0,
    });
    let seen = 0;
    for (let i = 0; i < 10 && seen < 10; i++) seen += (await consumer.poll()).length;
    expect(seen).toBe(10);
    await consumer.close();

    // Bob has no rule: the CLI says NotAuthorized and exits 1; nothing was written.
    const refused = await cli('jwt:bob', ['produce', topic, '{"value":"x"}']);
    expect(refused.code).toBe(1);
    // The producer learns the partition count first, which needs describe (as a Kafka producer's metadata request does).
    expect(refused.stderr).toMatch(/NotAuthorized.*describe topic/);
    expect((await cli('jwt:bob', ['topics', 'list', '--json'])).stdout.trim(), 'bob sees no topics').toBe('[]');
    expect((await cli('jwt:bob', ['acls', 'list'])).stderr).toMatch(/NotAuthorized.*describe cluster/);
    expect((await admin().offset(topic, 0, 'latest')) + (await admin().offset(topic, 1, 'latest'))).toBe(10);

    // A prefixed deny for everyone overrides alice's allow.
    const denyRule = ['*', 'write', 'topic', topic.slice(0, 4), '--prefixed', '--deny'];
    const deny = await cli('jwt:root', ['acls', 'add', ...denyRule]);
    expect(deny.code, deny.stderr).toBe(0);
    const denied = await new Producer({ url: stack.url, auth: { principal: 'jwt:alice' } })
      .send(topic, { value: 'late' })
      .catch((e: unknown) => e);
    expect(isSluiceApiError(denied, 'NotAuthorized')).toBe(true);
    const removed = await cli('jwt:root', ['acls', 'remove', ...denyRule]);
    expect([removed.code, removed.stdout.trim()]).toStrictEqual([0, 'Removed']);
    expect((await cli('jwt:root', ['acls', 'remove', ...denyRule])).code, 'nothing left to remove').toBe(1);
    const again = await cli('jwt:alice', ['produce', topic, '{"value":"again"}']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('believes the principal header only when started to: otherwise a caller is anonymous', async () => {
    // The same handlers behind a gateway that does not trust the header (as `npm start` without the flag).
    const untrusting = await startLocalGateway({ port: 0, handlers: await loadHttpHandlers() });
    try {
      const claimed = await new Admin({ url: untrusting.url, auth: { principal: 'jwt:root' } })
        .createTopic(uniqueName('claimed'))
        .catch((e: unknown) => e);
      expect(isSluiceApiError(claimed, 'NotAuthorized'), String(claimed)).toBe(true);
      await admin().addAcl({
        principal: 'anonymous',
        resourceType: 'cluster',
        resourceName: 'sluice',
        operation: 'describe',
      });
      expect(await new Admin({ url: untrusting.url }).listAcls(), 'anonymous, as the rule names it').not.toStrictEqual(
        [],
      );
    } finally {
      await untrusting.close();
      await admin().removeAcl({
        principal: 'anonymous',
        resourceType: 'cluster',
        resourceName: 'sluice',
        operation: 'describe',
      });
    }
  });
});
