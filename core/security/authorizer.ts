import { NotAuthorized } from '../errors.ts';
import { AclIndex, type Access } from './acl.ts';
import type { AclStore } from './aclStore.ts';

/**
 * `acl`: a request may do only what the rules allow (deny wins; what no rule allows is denied).
 * `open`: any caller the API admits may do anything (a single-tenant account).
 */
export type AuthorizationMode = 'acl' | 'open';

/** Who is calling: every principal name the caller is known by (see `acl.ts`), the first its own. */
export interface Caller {
  readonly principals: readonly string[];
}

/** A decision worth an audit line: every admin action (allowed or not) and every refusal. */
export interface Decision {
  readonly principal: string;
  readonly access: Access;
  readonly allowed: boolean;
  /** Why: a super user, open mode, a rule that allows or denies, or no rule. */
  readonly reason: 'superUser' | 'open' | 'allowed' | 'denied' | 'noRule';
}

/** How long a container keeps the rules it read: a rule change takes effect everywhere within this. */
export const ACL_CACHE_MS = 5_000;

/** Operations that change what exists or who may do what: audited whether allowed or not. */
const ADMIN_OPERATIONS: ReadonlySet<string> = new Set(['create', 'delete', 'alter']);

/**
 * Checks requests against the rules, which it reads whole (one query, a few pages at most) at most
 * once per `cacheMs` per container; concurrent checks share one read.
 */
export class Authorizer {
  readonly mode: AuthorizationMode;
  private readonly store: AclStore;
  private readonly superUsers: ReadonlySet<string>;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly onDecision: ((decision: Decision) => void) | undefined;
  private cached: { readonly index: AclIndex; readonly until: number } | undefined;
  private loading: Promise<AclIndex> | undefined;

  constructor(options: {
    readonly mode: AuthorizationMode;
    readonly store: AclStore;
    /** Principals allowed everything, whatever the rules say (Kafka's `super.users`). */
    readonly superUsers?: readonly string[];
    readonly cacheMs?: number;
    readonly now?: () => number;
    readonly onDecision?: (decision: Decision) => void;
  }) {
    this.mode = options.mode;
    this.store = options.store;
    this.superUsers = new Set(options.superUsers ?? []);
    this.cacheMs = options.cacheMs ?? ACL_CACHE_MS;
    this.now = options.now ?? Date.now;
    this.onDecision = options.onDecision;
  }

  /** Throws `NotAuthorized` for the first access the caller may not make; checks all before any work. */
  async authorize(caller: Caller, accesses: readonly Access[]): Promise<void> {
    for (const access of accesses) {
      if (!(await this.allows(caller, access)))
        throw new NotAuthorized(access.operation, access.resourceType, access.resourceName);
    }
  }

  /**
   * Whether the caller may make this access, without an error; `audit: false` for filtering a
   * listing to what the caller may see (which is not an action, and not worth a line per item).
   */
  async allows(caller: Caller, access: Access, options: { readonly audit?: boolean } = {}): Promise<boolean> {
    const decision = await this.decide(caller, access);
    const worthAuditing =
      !decision.allowed || ADMIN_OPERATIONS.has(access.operation) || access.resourceType === 'cluster';
    if (worthAuditing && options.audit !== false) this.onDecision?.(decision);
    return decision.allowed;
  }

  /** Forget the cached rules (after this container changed them). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async decide(caller: Caller, access: Access): Promise<Decision> {
    const principal = caller.principals[0] ?? 'anonymous';
    if (this.mode === 'open') return { principal, access, allowed: true, reason: 'open' };
    if (caller.principals.some((p) => this.superUsers.has(p)))
      return { principal, access, allowed: true, reason: 'superUser' };
    const verdict = (await this.rules()).decide(caller.principals, access);
    return {
      principal,
      access,
      allowed: verdict === 'allow',
      reason: verdict === 'allow' ? 'allowed' : verdict === 'deny' ? 'denied' : 'noRule',
    };
  }

  private async rules(): Promise<AclIndex> {
    const cached = this.cached;
    if (cached !== undefined && this.now() < cached.until) return cached.index;
    this.loading ??= this.store
      .listAcls()
      .then((rules) => {
        const index = new AclIndex(rules);
        this.cached = { index, until: this.now() + this.cacheMs };
        return index;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }
}
