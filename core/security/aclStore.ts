import { InvalidArgument } from '../errors.ts';
import { aclId, type AclRule, type StoredAclRule } from './acl.ts';

/** Where the rules live: the metadata table (`pk = "acl"`), or memory for tests and the local stack. */
export interface AclStore {
  /** Every rule, in id order. */
  listAcls(): Promise<StoredAclRule[]>;
  /** Adds a rule; false when an equal rule was there already. */
  putAcl(rule: AclRule): Promise<{ readonly rule: StoredAclRule; readonly created: boolean }>;
  /** Removes the rule equal to this one; false when there was none. */
  deleteAcl(rule: AclRule): Promise<boolean>;
}

/**
 * The most rules a deployment keeps: every container reads them all (about 250 bytes each, so a
 * full set is a few 1 MB query pages) whenever its cache expires. Use prefixed rules to cover many
 * resources with one.
 */
export const MAX_ACL_RULES = 10_000;

export class TooManyAclRules extends InvalidArgument {
  constructor() {
    super(
      'body',
      `at most ${MAX_ACL_RULES} ACL rules may exist; remove some, or cover several resources with a prefixed rule`,
    );
  }
}

export class MemoryAclStore implements AclStore {
  private readonly rules = new Map<string, StoredAclRule>();
  /** How many times the rules were listed (tests count cache misses with it). */
  listed = 0;

  async listAcls(): Promise<StoredAclRule[]> {
    this.listed++;
    return [...this.rules.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async putAcl(rule: AclRule): Promise<{ rule: StoredAclRule; created: boolean }> {
    const stored = { id: aclId(rule), ...rule };
    if (this.rules.has(stored.id)) return { rule: stored, created: false };
    if (this.rules.size >= MAX_ACL_RULES) throw new TooManyAclRules();
    this.rules.set(stored.id, stored);
    return { rule: stored, created: true };
  }

  async deleteAcl(rule: AclRule): Promise<boolean> {
    return this.rules.delete(aclId(rule));
  }
}
