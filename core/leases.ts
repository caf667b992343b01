/**
 * Short-lived exclusive rights by name: one saga trigger, one subscription dispatcher at a time.
 * A holder that crashes loses its lease when the lease's time runs out.
 */
export interface Leases {
  /** True when `holder` now holds `name` until `now + ttlMs` (it was free, or its time had run out). */
  acquire(name: string, holder: string, now: number, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, if `holder` still holds it. */
  release(name: string, holder: string): Promise<void>;
}

/** Leases in memory (tests, one process). */
export class MemoryLeases implements Leases {
  private readonly held = new Map<string, { holder: string; until: number }>();

  async acquire(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    await new Promise<void>((r) => setImmediate(r));
    const current = this.held.get(name);
    if (current !== undefined && current.until >= now) return false;
    this.held.set(name, { holder, until: now + ttlMs });
    return true;
  }

  async release(name: string, holder: string): Promise<void> {
    await new Promise<void>((r) => setImmediate(r));
    if (this.held.get(name)?.holder === holder) this.held.delete(name);
  }
}
