/**
 * The bank account of the event-store examples: its events, its reducer, the upcaster of an old
 * event shape, and the balances projection's arithmetic, shared by the in-memory and HTTP runs.
 */
import type { RecordedEvent } from '../../core/eventStore/events.ts';

/** Events: Opened {owner}, Deposited {amountCents}, Withdrawn {amountCents} (schema 2). */
export type BankEvent =
  | { type: 'Opened'; data: { owner: string } }
  | { type: 'Deposited'; data: { amountCents: number } }
  | { type: 'Withdrawn'; data: { amountCents: number }; schemaVersion: 2 }
  /** How withdrawals were first written: euros as a string (schema 1), upcast on read. */
  | { type: 'Withdrawn'; data: { amount: string }; schemaVersion: 1 };

export interface Account {
  owner: string | null;
  balanceCents: number;
  transactions: number;
}

/** The account's state from its events (version 1 of this reducer). */
export const accountReducer = {
  name: 'account',
  version: 1,
  initial: (): Account => ({ owner: null, balanceCents: 0, transactions: 0 }),
  apply: (s: Account, e: RecordedEvent): Account => {
    const d = e.data as { owner?: string; amountCents?: number };
    if (e.type === 'Opened') return { ...s, owner: d.owner ?? null };
    if (e.type === 'Deposited')
      return { ...s, balanceCents: s.balanceCents + d.amountCents!, transactions: s.transactions + 1 };
    if (e.type === 'Withdrawn')
      return { ...s, balanceCents: s.balanceCents - d.amountCents!, transactions: s.transactions + 1 };
    return s;
  },
};

/** Withdrawn 1 → 2: "12.50" euros become 1250 cents. */
export const withdrawnV1toV2 = (data: unknown) => ({
  amountCents: Math.round(Number((data as { amount: string }).amount) * 100),
});

/** What an (upcast) event changes in the balances read model: an account's owner, or its balance. */
export function balanceChange(e: RecordedEvent): { owner: string } | { deltaCents: number } | undefined {
  const d = e.data as { owner?: string; amountCents?: number };
  if (e.type === 'Opened') return { owner: d.owner! };
  if (e.type === 'Deposited') return { deltaCents: d.amountCents! };
  if (e.type === 'Withdrawn') return { deltaCents: -d.amountCents! };
  return undefined;
}
