import { parseAclRule } from '../../core/security/acl.ts';
import { httpHandler } from '../http/httpHandler.ts';
import { onlyQuery } from '../http/wire.ts';
import { aclStore, authorize, authorizer, onCluster } from './authorization.ts';

const FILTERS = ['principal', 'resourceType', 'resourceName'] as const;

/** ACL rules: list (optionally filtered), add, remove. Cluster operations: describe, alter. */
export const handler = httpHandler({
  'GET /v1/acls': async (event) => {
    const query = event.queryStringParameters;
    onlyQuery(query, [...FILTERS]);
    await authorize(event, onCluster('describe'));
    const rules = await aclStore.listAcls();
    const shown = rules.filter((r) => FILTERS.every((f) => query?.[f] === undefined || r[f] === query[f]));
    return { status: 200, body: { acls: shown } };
  },
  'POST /v1/acls': async (event) => {
    const rule = parseAclRule(event.json);
    await authorize(event, onCluster('alter'));
    const { rule: stored, created } = await aclStore.putAcl(rule);
    authorizer.invalidate();
    return { status: created ? 201 : 200, body: { acl: stored, created } };
  },
  'DELETE /v1/acls': async (event) => {
    const rule = parseAclRule(event.json);
    await authorize(event, onCluster('alter'));
    const deleted = await aclStore.deleteAcl(rule);
    authorizer.invalidate();
    return { status: 200, body: { deleted } };
  },
});
