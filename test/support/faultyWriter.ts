import type { AtomicOutcome, AtomicPart, AtomicWriter } from '../../core/ports.ts';

/**
 * An `AtomicWriter` that crashes on cue: armed with `crashAt(n, 'before')`, its n-th write from
 * then throws without writing; with `'after'`, it writes and then throws (the caller cannot tell
 * it landed). Every other write goes through.
 */
export class FaultyWriter implements AtomicWriter {
  private readonly inner: AtomicWriter;
  private countdown = 0;
  private when: 'before' | 'after' = 'before';
  /** Writes that reached the inner writer. */
  writes = 0;

  constructor(inner: AtomicWriter) {
    this.inner = inner;
  }

  crashAt(n: number, when: 'before' | 'after'): void {
    this.countdown = n;
    this.when = when;
  }

  async write(parts: readonly AtomicPart[], token: string): Promise<AtomicOutcome> {
    const crash = this.countdown > 0 && --this.countdown === 0;
    if (crash && this.when === 'before') throw new InjectedCrash('before');
    const outcome = await this.inner.write(parts, token);
    this.writes++;
    if (crash) throw new InjectedCrash('after');
    return outcome;
  }
}

export class InjectedCrash extends Error {
  constructor(when: string) {
    super(`injected crash ${when} an atomic write`);
  }
}
