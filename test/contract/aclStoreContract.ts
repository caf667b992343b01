import { describe, expect, it } from 'vitest';
import { aclRule } from '../support/acls.ts';
import { aclId, type AclRule } from '../../core/security/acl.ts';
import type { AclStore } from '../../core/security/aclStore.ts';

export interface AclStoreKind {
  readonly name: string;
  make(): Promise<AclStore>;
}

const rule = aclRule;

/** What every ACL store does: rules keyed by their content, listed whole, removed by content. */
export function aclStoreContract(kind: AclStoreKind): void {
  describe(`ACL store: ${kind.name}`, () => {
    it('adds a rule once, lists every rule with its id, and removes a rule equal to the one given', async () => {
      const store = await kind.make();
      expect(await store.listAcls()).toStrictEqual([]);
      const first = await store.putAcl(rule());
      expect(first).toStrictEqual({ rule: { id: aclId(rule()), ...rule() }, created: true });
      expect((await store.putAcl(rule())).created, 'an equal rule is the same rule').toBe(false);
      const others = [
        rule({ permission: 'deny' }),
        rule({ patternType: 'prefixed', resourceName: 'ord' }),
        rule({ principal: '*', resourceType: 'cluster', resourceName: 'sluice', operation: 'describe' }),
      ];
      for (const r of others) expect((await store.putAcl(r)).created).toBe(true);
      const listed = await store.listAcls();
      expect(listed.map(({ id: _id, ...r }) => r).sort(byId)).toStrictEqual([rule(), ...others].sort(byId));
      expect(listed.every((r) => r.id === aclId(r))).toBe(true);
      expect(await store.deleteAcl(rule({ permission: 'deny' }))).toBe(true);
      expect(await store.deleteAcl(rule({ permission: 'deny' })), 'already gone').toBe(false);
      expect((await store.listAcls()).length).toBe(3);
    });

    it('lists more rules than one query page holds', async () => {
      const store = await kind.make();
      const many = Array.from(
        { length: 2_200 },
        (_, i) => rule({ resourceName: `topic-${String(i).padStart(4, '0')}-${'x'.repeat(490)}` }), // ~1.2 MB in all
      );
      for (let i = 0; i < many.length; i += 4) await Promise.all(many.slice(i, i + 4).map((r) => store.putAcl(r)));
      const listed = await store.listAcls();
      expect(listed.length).toBe(2_200);
      expect(new Set(listed.map((r) => r.resourceName))).toStrictEqual(new Set(many.map((r) => r.resourceName)));
    });
  });
}

function byId(a: AclRule, b: AclRule): number {
  return aclId(a) < aclId(b) ? -1 : 1;
}
