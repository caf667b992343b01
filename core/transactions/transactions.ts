import {
  InvalidArgument,
  InvalidTransactionState,
  ProducerFenced,
  TransactionConditionFailed,
  UnknownTransactionalId,
  isSluiceError,
  type SluiceError,
} from '../errors.ts';
import type { ConsumerGroups, CommitOffsets } from '../groups/consumerGroups.ts';
import { stable } from '../log/describe.ts';
import { integerOption } from '../log/integerOption.ts';
import { encodeRecord } from '../log/records.ts';
import type { AtomicBatch, AtomicRecordMetadata, Sluice } from '../log/sluice.ts';
import { logKey, type AtomicPart } from '../ports.ts';
import { decide, type TxnOutcomes } from './outcomes.ts';
import {
  txnKey,
  type OpenTxn,
  type TransactionStore,
  type TxnBatch,
  type TxnOutcome,
  type TxnProducerState,
} from './transactionStore.ts';

/** A transactional id: what a producer instance keeps across restarts (Kafka's transactional.id). */
const TRANSACTIONAL_ID = /^[A-Za-z0-9._-]{1,200}$/;
/** Default and longest time a multi-request transaction may stay open (Kafka: 60 s and 15 min). */
export const DEFAULT_TRANSACTION_TIMEOUT_MS = 60_000;
export const MAX_TRANSACTION_TIMEOUT_MS = 15 * 60_000;
/** Most partitions one multi-request transaction may write to (its state is one item). */
export const MAX_TRANSACTION_PARTITIONS = 1000;
/** Attempts when the producer state moves under a request (another request of the same producer). */
const STATE_ATTEMPTS = 8;

/** A record of a transaction: its topic, and what a produce takes (key, value, headers, partition, timestamp). */
export interface TransactionRecord {
  readonly topic: string;
  readonly partition?: number;
  readonly key?: unknown;
  readonly value?: unknown;
  readonly headers?: unknown;
  readonly timestamp?: number;
}

/** Offsets a consumer group commits in the same transaction (consume-transform-produce). */
export interface TransactionOffsets extends CommitOffsets {
  readonly groupId: string;
}

export interface SingleTransaction {
  readonly transactionalId: string;
  readonly epoch: number;
  /**
   * The transaction's number within the epoch (0, 1, 2, …): a retry with the same number is
   * answered with what the first attempt wrote instead of writing again. Omitted: the next one
   * (then a retry after an unknown outcome may write twice).
   */
  readonly sequence?: number;
  readonly records: readonly TransactionRecord[];
  readonly offsets?: TransactionOffsets;
  /** Parts of the caller's own rows (the outbox), from the adapter (`DynamoAtomicWriter.userPart`). */
  readonly writes?: readonly AtomicPart[];
}

export interface TransactionResult {
  readonly transactionalId: string;
  readonly epoch: number;
  readonly sequence: number;
  /** Per input record, in input order; absent when this answers a retry (see `batches`). */
  readonly records?: readonly AtomicRecordMetadata[];
  /** Where the records went, batch by batch. */
  readonly batches: readonly TxnBatch[];
  /** True when the transaction had been written by an earlier attempt with this sequence. */
  readonly duplicate: boolean;
}

/** What an atomic write without a transactional producer (`Transactions.atomic`) wrote. */
export interface AtomicResult {
  /** Per input record, in input order. */
  readonly records: readonly AtomicRecordMetadata[];
}

export interface TransactionsOptions {
  readonly sluice: Sluice;
  readonly store: TransactionStore;
  /** Consumer groups, for offsets committed in transactions. */
  readonly groups?: ConsumerGroups;
  readonly now?: () => number;
}

/** What `describe` shows of a transactional producer. */
export interface TransactionalProducerDescription {
  readonly transactionalId: string;
  readonly epoch: number;
  readonly nextSequence: number;
  readonly state: 'ready' | 'open' | 'closing';
  readonly open?: {
    readonly sequence: number;
    readonly startedAt: number;
    readonly deadline: number;
    readonly appends: number;
    readonly partitions: readonly {
      readonly topic: string;
      readonly partition: number;
      readonly firstOffset: number;
    }[];
  };
  readonly last?: { readonly sequence: number; readonly outcome: TxnOutcome };
}

/**
 * Kafka's transactions without a coordinator. A transactional producer (a `transactionalId`
 * whose `init` raises the epoch, fencing older instances) writes to several topics and
 * partitions atomically:
 *
 * - in one request (`transact`): every batch, the producer's state, the offsets a consumer
 *   group commits and the caller's own rows in ONE DynamoDB transaction (100 items, 4 MB), so
 *   readers of any isolation see all of it or none;
 * - across requests (`begin`, `append`…, `commit` or `abort`): batches carry the transaction's
 *   key and occupy offsets at once; `read_committed` readers stop before the first batch of an
 *   open transaction (the last stable offset) and skip those of aborted ones. The decision is
 *   one atomic write of its outcome and the producer's state (with the group's offsets on
 *   commit); markers (control records) then go to every partition written. A transaction open
 *   past its timeout is aborted by whoever meets it (a reader, the producer, describe).
 */
export class Transactions {
  private readonly sluice: Sluice;
  private readonly store: TransactionStore;
  private readonly groups: ConsumerGroups | undefined;
  private readonly now: () => number;

  constructor(options: TransactionsOptions) {
    this.sluice = options.sluice;
    this.store = options.store;
    this.groups = options.groups;
    this.now = options.now ?? Date.now;
  }

  private get outcomes(): TxnOutcomes {
    const outcomes = this.sluice.txnOutcomes;
    if (outcomes === undefined) throw new Error('transactions need SluiceOptions.transactions and atomic');
    return outcomes;
  }

  /**
   * Starts a new epoch for the transactional id (Kafka's initTransactions): requests of older
   * epochs are fenced from now on, and a transaction the previous instance left open is aborted.
   */
  async init(transactionalId: string): Promise<{ transactionalId: string; epoch: number }> {
    validateId(transactionalId);
    for (let attempt = 0; attempt < STATE_ATTEMPTS; attempt++) {
      let state = await this.store.getProducer(transactionalId);
      // The new epoch is conditional on the version read: two inits race, one wins, one reads again.
      if (state?.open !== undefined) {
        await this.decideOrRetry(state, 'aborted');
        continue;
      }
      if (state?.closing !== undefined) state = await this.finishClosing(state);
      const next: TxnProducerState = {
        transactionalId,
        epoch: state === undefined ? 0 : state.epoch + 1,
        nextSequence: 0,
        version: (state?.version ?? 0) + 1,
      };
      if (await this.store.putProducer(next)) return { transactionalId, epoch: next.epoch };
    }
    throw new InvalidTransactionState(transactionalId, 'its state kept changing; try again', 'contended');
  }

  /** A producer's epoch, its open transaction (with each partition's first offset) and its last outcome. */
  async describe(transactionalId: string): Promise<TransactionalProducerDescription> {
    validateId(transactionalId);
    let state = await this.store.getProducer(transactionalId);
    if (state === undefined) throw new UnknownTransactionalId(transactionalId);
    if (state.open !== undefined && this.expired(state.open)) {
      await this.decideOrRetry(state, 'aborted');
      state = (await this.store.getProducer(transactionalId))!;
    }
    if (state.closing !== undefined) state = await this.finishClosing(state);
    const open = state.open;
    return {
      transactionalId,
      epoch: state.epoch,
      nextSequence: state.nextSequence,
      state: open !== undefined ? 'open' : state.closing !== undefined ? 'closing' : 'ready',
      ...(open === undefined
        ? {}
        : {
            open: {
              sequence: open.sequence,
              startedAt: open.startedAt,
              deadline: open.startedAt + open.timeoutMs,
              appends: open.appends,
              partitions: open.partitions.map(({ topic, partition, first }) => ({
                topic,
                partition,
                firstOffset: first,
              })),
            },
          }),
      ...(state.last === undefined ? {} : { last: { sequence: state.last.sequence, outcome: state.last.outcome } }),
    };
  }

  /**
   * One atomic transaction: every record, the producer's state (epoch and sequence checked), the
   * group's offsets and the caller's writes, in one DynamoDB transaction. A wrong epoch is
   * `ProducerFenced`; a group that fenced the member, `FencedMember` (or `NotAssigned`,
   * `OffsetRegression`); a failed condition of the caller's writes, `TransactionConditionFailed`;
   * too much for one transaction, `TransactionTooLarge`. Each leaves nothing written.
   */
  async transact(request: SingleTransaction): Promise<TransactionResult> {
    if (typeof request !== 'object' || request === null)
      throw new InvalidArgument('body', 'a transaction is { transactionalId, epoch, records, offsets? }');
    validateId(request.transactionalId);
    const epoch = integerOption('epoch', request.epoch, undefined, 0, Number.MAX_SAFE_INTEGER);
    const appends = groupRecords(request.records, this.now(), (request.offsets ?? request.writes) !== undefined);
    const writes = request.writes ?? [];
    const sequenceAsked =
      request.sequence === undefined
        ? undefined
        : integerOption('sequence', request.sequence, undefined, 0, Number.MAX_SAFE_INTEGER);
    const commit = request.offsets === undefined ? undefined : await this.commitPart(request.offsets);
    for (let attempt = 0; attempt < STATE_ATTEMPTS; attempt++) {
      const state = await this.ready(request.transactionalId, epoch);
      if (state.open !== undefined) {
        throw new InvalidTransactionState(
          request.transactionalId,
          `transaction ${state.open.sequence} is open; commit or abort it first`,
          'open',
        );
      }
      const sequence = sequenceAsked ?? state.nextSequence;
      if (sequence < state.nextSequence) return this.retried(state, sequence);
      if (sequence > state.nextSequence) {
        throw new InvalidTransactionState(
          request.transactionalId,
          `sequence ${sequence} skips ahead; the next transaction is ${state.nextSequence}`,
          'ready',
        );
      }
      let batches: TxnBatch[] = [];
      const result = await this.sluice.appendAtomically(
        appends.map(({ topic, records }) => ({ topic, records })),
        (reserved) => {
          batches = compact(reserved);
          const next: TxnProducerState = {
            transactionalId: state.transactionalId,
            epoch: state.epoch,
            nextSequence: sequence + 1,
            version: state.version + 1,
            last: { sequence, outcome: 'committed', batches },
          };
          return [this.store.producerPart(next), ...(commit === undefined ? [] : [commit.part]), ...writes];
        },
      );
      if (result.outcome === 'written') {
        const records: AtomicRecordMetadata[] = Array.from({ length: request.records.length });
        appends.forEach((a, i) => a.indexes.forEach((index, k) => (records[index] = result.records[i]![k]!)));
        return { transactionalId: request.transactionalId, epoch, sequence, records, batches, duplicate: false };
      }
      if (result.part === 0) continue; // the producer's state moved: look again (maybe our own retry landed)
      if (commit !== undefined && result.part === 1) throw await commit.rejection(result.item);
      throw new TransactionConditionFailed(result.part - (commit === undefined ? 1 : 2));
    }
    throw new InvalidTransactionState(request.transactionalId, 'its state kept changing; try again', 'contended');
  }

  /**
   * Records, a group's offsets and the caller's writes in one atomic write, without a
   * transactional producer (the outbox): retries inside the call are deduplicated by the write's
   * token; a caller who retries the whole call should make one of its writes conditional (a row
   * put only if absent) so that the repeat fails with `TransactionConditionFailed` instead of
   * appending twice.
   */
  async atomic(request: {
    readonly records: readonly TransactionRecord[];
    readonly offsets?: TransactionOffsets;
    readonly writes?: readonly AtomicPart[];
  }): Promise<AtomicResult> {
    if (typeof request !== 'object' || request === null)
      throw new InvalidArgument('body', 'a transaction is { records, writes?, offsets? }');
    const writes = request.writes ?? [];
    const appends = groupRecords(request.records, this.now(), writes.length > 0 || request.offsets !== undefined);
    const commit = request.offsets === undefined ? undefined : await this.commitPart(request.offsets);
    const result = await this.sluice.appendAtomically(
      appends.map(({ topic, records }) => ({ topic, records })),
      () => [...(commit === undefined ? [] : [commit.part]), ...writes],
    );
    if (result.outcome === 'written') {
      const records: AtomicRecordMetadata[] = Array.from({ length: request.records.length });
      appends.forEach((a, i) => a.indexes.forEach((index, k) => (records[index] = result.records[i]![k]!)));
      return { records };
    }
    if (commit !== undefined && result.part === 0) throw await commit.rejection(result.item);
    const part = result.part - (commit === undefined ? 0 : 1);
    throw new TransactionConditionFailed(writes.slice(0, part).reduce((n, w) => n + w.items, 0) + result.item);
  }

  /** Begins a multi-request transaction; its number (the `sequence` its appends, commit and abort carry). */
  async begin(request: {
    readonly transactionalId: string;
    readonly epoch: number;
    readonly timeoutMs?: number;
  }): Promise<{ transactionalId: string; epoch: number; sequence: number; deadline: number }> {
    validateId(request?.transactionalId);
    const epoch = integerOption('epoch', request.epoch, undefined, 0, Number.MAX_SAFE_INTEGER);
    const timeoutMs = integerOption(
      'timeoutMs',
      request.timeoutMs,
      DEFAULT_TRANSACTION_TIMEOUT_MS,
      1000,
      MAX_TRANSACTION_TIMEOUT_MS,
    );
    for (let attempt = 0; attempt < STATE_ATTEMPTS; attempt++) {
      const state = await this.ready(request.transactionalId, epoch);
      if (state.open !== undefined) {
        throw new InvalidTransactionState(
          request.transactionalId,
          `transaction ${state.open.sequence} is open already`,
          'open',
        );
      }
      const startedAt = this.now();
      const open: OpenTxn = { sequence: state.nextSequence, startedAt, timeoutMs, appends: 0, partitions: [] };
      if (await this.store.putProducer({ ...withoutLast(state), version: state.version + 1, open })) {
        return {
          transactionalId: request.transactionalId,
          epoch,
          sequence: open.sequence,
          deadline: startedAt + timeoutMs,
        };
      }
    }
    throw new InvalidTransactionState(request.transactionalId, 'its state kept changing; try again', 'contended');
  }

  /**
   * Appends records inside the open transaction: they occupy offsets now and are visible to
   * `read_committed` readers once it commits. `append` numbers the calls (0, 1, …): a retry of
   * the last one is answered with what it wrote instead of writing again.
   */
  async append(request: {
    readonly transactionalId: string;
    readonly epoch: number;
    readonly sequence: number;
    readonly append: number;
    readonly records: readonly TransactionRecord[];
  }): Promise<{ records?: AtomicRecordMetadata[]; batches: readonly TxnBatch[]; duplicate: boolean }> {
    validateId(request?.transactionalId);
    const epoch = integerOption('epoch', request.epoch, undefined, 0, Number.MAX_SAFE_INTEGER);
    const sequence = integerOption('sequence', request.sequence, undefined, 0, Number.MAX_SAFE_INTEGER);
    const n = integerOption('append', request.append, undefined, 0, Number.MAX_SAFE_INTEGER);
    const appends = groupRecords(request.records, this.now(), false);
    const key = txnKey(request.transactionalId, epoch, sequence);
    for (let attempt = 0; attempt < STATE_ATTEMPTS; attempt++) {
      const state = await this.openState(request.transactionalId, epoch, sequence);
      const open = state.open!;
      if (n < open.appends) {
        if (n === open.appends - 1 && open.lastAppend !== undefined)
          return { batches: open.lastAppend, duplicate: true };
        throw new InvalidTransactionState(request.transactionalId, `append ${n} was written already`, 'open');
      }
      if (n > open.appends)
        throw new InvalidTransactionState(
          request.transactionalId,
          `append ${n} skips ahead; the next append is ${open.appends}`,
          'open',
        );
      let batches: TxnBatch[] = [];
      const result = await this.sluice.appendAtomically(
        appends.map(({ topic, records }) => ({ topic, records })),
        (reserved) => {
          batches = compact(reserved);
          const known = new Set(open.partitions.map((p) => p.log));
          const added = new Map<string, (typeof open.partitions)[number]>();
          for (const b of reserved) {
            if (known.has(b.log)) continue;
            const seen = added.get(b.log);
            if (seen === undefined || b.baseOffset < seen.first)
              added.set(b.log, { topic: b.topic.name, partition: b.partition, log: b.log, first: b.baseOffset });
          }
          if (open.partitions.length + added.size > MAX_TRANSACTION_PARTITIONS)
            throw new InvalidArgument(
              'records',
              `a transaction writes to at most ${MAX_TRANSACTION_PARTITIONS} partitions`,
            );
          const next: TxnProducerState = {
            ...state,
            version: state.version + 1,
            open: { ...open, appends: n + 1, lastAppend: batches, partitions: [...open.partitions, ...added.values()] },
          };
          return [
            this.store.producerPart(next),
            ...[...added.values()].map((p) => this.store.openPart(p.log, key, p.first)),
          ];
        },
        { txn: key },
      );
      if (result.outcome === 'written') {
        const records: AtomicRecordMetadata[] = Array.from({ length: request.records.length });
        appends.forEach((a, i) => a.indexes.forEach((index, k) => (records[index] = result.records[i]![k]!)));
        return { records, batches, duplicate: false };
      }
      // Only the producer's state can refuse (the open notes have no condition): look again.
    }
    throw new InvalidTransactionState(request.transactionalId, 'its state kept changing; try again', 'contended');
  }

  /**
   * Commits the open transaction, with the offsets a consumer group commits (consume-transform-
   * produce): one atomic write decides it; markers follow. A retry of a decided one answers its outcome.
   */
  async commit(request: {
    readonly transactionalId: string;
    readonly epoch: number;
    readonly sequence: number;
    readonly offsets?: TransactionOffsets;
  }): Promise<{ transactionalId: string; epoch: number; sequence: number; outcome: TxnOutcome }> {
    return this.end(request, 'committed');
  }

  /** Aborts the open transaction: `read_committed` readers skip its records. */
  async abort(request: {
    readonly transactionalId: string;
    readonly epoch: number;
    readonly sequence: number;
  }): Promise<{ transactionalId: string; epoch: number; sequence: number; outcome: TxnOutcome }> {
    return this.end(request, 'aborted');
  }

  /**
   * A partition's last stable offset (the first offset of its oldest open transaction, else the
   * high watermark) and its open transactions: one query of its open notes.
   */
  async partitionTransactions(
    log: string,
    highWatermark: number,
  ): Promise<{ lastStableOffset: number; openTransactions: { transactionalId: string; firstOffset: number }[] }> {
    return stable(this.outcomes, await this.store.openOn(log), highWatermark);
  }

  // ---------------------------------------------------------------- internals

  private async end(
    request: {
      readonly transactionalId: string;
      readonly epoch: number;
      readonly sequence: number;
      readonly offsets?: TransactionOffsets;
    },
    outcome: TxnOutcome,
  ): Promise<{ transactionalId: string; epoch: number; sequence: number; outcome: TxnOutcome }> {
    validateId(request?.transactionalId);
    const epoch = integerOption('epoch', request.epoch, undefined, 0, Number.MAX_SAFE_INTEGER);
    const sequence = integerOption('sequence', request.sequence, undefined, 0, Number.MAX_SAFE_INTEGER);
    const commit =
      outcome === 'committed' && request.offsets !== undefined ? await this.commitPart(request.offsets) : undefined;
    const answer = (o: TxnOutcome) => ({ transactionalId: request.transactionalId, epoch, sequence, outcome: o });
    for (let attempt = 0; attempt < STATE_ATTEMPTS; attempt++) {
      let state = await this.producer(request.transactionalId, epoch);
      if (state.open?.sequence !== sequence) {
        // Decided already: a retry learns the outcome (a timed-out commit learns it was aborted).
        const decided =
          state.closing?.sequence === sequence
            ? state.closing.outcome
            : state.last?.sequence === sequence
              ? state.last.outcome
              : sequence < state.nextSequence
                ? (await this.store.getOutcomes([txnKey(request.transactionalId, epoch, sequence)])).get(
                    txnKey(request.transactionalId, epoch, sequence),
                  )
                : undefined;
        if (decided !== undefined) {
          if (state.closing !== undefined) await this.finishClosing(state);
          if (decided !== outcome && outcome === 'committed')
            throw new InvalidTransactionState(
              request.transactionalId,
              `transaction ${sequence} was aborted`,
              'aborted',
            );
          return answer(decided);
        }
        throw new InvalidTransactionState(request.transactionalId, `transaction ${sequence} is not open`, 'ready');
      }
      if (outcome === 'committed' && this.expired(state.open)) {
        await this.decideOrRetry(state, 'aborted');
        continue; // answered above as aborted
      }
      const decided = await decide(
        this.store,
        this.writerOf(),
        state,
        outcome,
        commit === undefined ? [] : [commit.part],
      );
      if (decided === false) continue;
      if (decided !== true) throw await commit!.rejection(decided.item);
      this.outcomes.remember(txnKey(request.transactionalId, epoch, sequence), outcome);
      state = (await this.store.getProducer(request.transactionalId)) ?? state;
      if (state.closing !== undefined) await this.finishClosing(state);
      return answer(outcome);
    }
    throw new InvalidTransactionState(request.transactionalId, 'its state kept changing; try again', 'contended');
  }

  /** Writes a decided transaction's markers and removes its open notes; the state without `closing`. */
  private async finishClosing(state: TxnProducerState): Promise<TxnProducerState> {
    const closing = state.closing!;
    const key = txnKey(state.transactionalId, state.epoch, closing.sequence);
    await Promise.all(
      closing.partitions.map(async (p) => {
        try {
          const topic = await this.sluice.topic(p.topic, { fresh: true });
          if (logKey(topic.topicId, p.partition) === p.log) {
            await this.sluice.appendMarker(
              topic,
              p.partition,
              closing.outcome === 'committed' ? 'commit' : 'abort',
              key,
            );
          }
        } catch (e) {
          if (!isSluiceError(e, 'TopicNotFound')) throw e; // deleted meanwhile: no marker needed
        }
        await this.store.forgetOpen(p.log, key);
      }),
    );
    const { closing: _done, ...rest } = state;
    const next = { ...rest, version: state.version + 1 };
    return (await this.store.putProducer(next))
      ? next
      : ((await this.store.getProducer(state.transactionalId)) ?? next);
  }

  private async decideOrRetry(state: TxnProducerState, outcome: TxnOutcome): Promise<void> {
    if ((await decide(this.store, this.writerOf(), state, outcome)) === true) {
      this.outcomes.remember(txnKey(state.transactionalId, state.epoch, state.open!.sequence), outcome);
      const next = await this.store.getProducer(state.transactionalId);
      if (next?.closing !== undefined) await this.finishClosing(next);
    }
  }

  private writerOf() {
    return { write: (parts: readonly AtomicPart[]) => this.sluice.writeAtomically(parts) };
  }

  private expired(open: OpenTxn): boolean {
    return open.startedAt + open.timeoutMs <= this.now();
  }

  /** The producer's state at this epoch (fenced otherwise). */
  private async producer(transactionalId: string, epoch: number): Promise<TxnProducerState> {
    const state = await this.store.getProducer(transactionalId);
    if (state === undefined) throw new UnknownTransactionalId(transactionalId);
    if (epoch < state.epoch) throw new ProducerFenced(transactionalId, epoch, state.epoch);
    if (epoch > state.epoch) throw new InvalidArgument('epoch', `epoch ${epoch} was never issued; init gives one`);
    return state;
  }

  /** The producer's state, with a decided transaction's closing finished and an expired one aborted. */
  private async ready(transactionalId: string, epoch: number): Promise<TxnProducerState> {
    for (let attempt = 0; ; attempt++) {
      const state = await this.producer(transactionalId, epoch);
      if (state.open !== undefined && this.expired(state.open) && attempt < 3) {
        await this.decideOrRetry(state, 'aborted');
        continue;
      }
      return state.closing === undefined ? state : this.finishClosing(state);
    }
  }

  private async openState(transactionalId: string, epoch: number, sequence: number): Promise<TxnProducerState> {
    const state = await this.ready(transactionalId, epoch);
    if (state.open?.sequence === sequence) return state;
    const decided = state.last?.sequence === sequence ? state.last.outcome : undefined;
    throw new InvalidTransactionState(
      transactionalId,
      decided === undefined
        ? `transaction ${sequence} is not open`
        : `transaction ${sequence} was ${decided}${decided === 'aborted' ? ' (it timed out, or a newer instance took over)' : ''}`,
      decided ?? 'ready',
    );
  }

  /** Answers a retried single-request transaction from what the producer's state remembers. */
  private retried(state: TxnProducerState, sequence: number): TransactionResult {
    if (state.last?.sequence === sequence && state.last.batches !== undefined) {
      return {
        transactionalId: state.transactionalId,
        epoch: state.epoch,
        sequence,
        batches: state.last.batches,
        duplicate: true,
      };
    }
    throw new InvalidTransactionState(
      state.transactionalId,
      `sequence ${sequence} was used already; the next transaction is ${state.nextSequence}`,
      'ready',
    );
  }

  private async commitPart(
    offsets: TransactionOffsets,
  ): Promise<{ part: AtomicPart; rejection: (item: number) => Promise<SluiceError> }> {
    if (this.groups === undefined) throw new InvalidArgument('offsets', 'consumer groups are not configured here');
    if (typeof offsets !== 'object' || offsets === null || typeof offsets.groupId !== 'string')
      throw new InvalidArgument('offsets', 'offsets are { groupId, memberId, generation, offsets: [...] }');
    return this.groups.commitPart(offsets.groupId, offsets);
  }
}

function validateId(transactionalId: unknown): asserts transactionalId is string {
  if (typeof transactionalId !== 'string' || !TRANSACTIONAL_ID.test(transactionalId))
    throw new InvalidArgument('transactionalId', 'transactionalId must be 1 to 200 of A-Z a-z 0-9 . _ -');
}

function withoutLast(state: TxnProducerState): TxnProducerState {
  const { last: _last, ...rest } = state;
  return rest;
}

/** Records grouped by topic (keeping their input indexes), each validated as a produce validates it. */
function groupRecords(
  records: readonly TransactionRecord[],
  now: number,
  mayBeEmpty: boolean,
): { topic: string; records: unknown[]; indexes: number[] }[] {
  if (!Array.isArray(records)) throw new InvalidArgument('records', 'records must be an array');
  if (records.length === 0 && !mayBeEmpty)
    throw new InvalidArgument('records', 'a transaction needs at least one record');
  const byTopic = new Map<string, { topic: string; records: unknown[]; indexes: number[] }>();
  (records as readonly unknown[]).forEach((input, i) => {
    const r = input as TransactionRecord;
    if (typeof r !== 'object' || r === null || Array.isArray(r))
      throw new InvalidArgument(`records[${i}]`, 'each record is { topic, partition?, key?, value, headers? }');
    if (typeof r.topic !== 'string') throw new InvalidArgument(`records[${i}].topic`, 'each record names its topic');
    const { topic, ...record } = r;
    encodeRecord(record, i, now); // validates, with the record's index in the request
    const group = byTopic.get(topic) ?? { topic, records: [] as unknown[], indexes: [] as number[] };
    group.records.push(record);
    group.indexes.push(i);
    byTopic.set(topic, group);
  });
  return [...byTopic.values()];
}

function compact(batches: readonly AtomicBatch[]): TxnBatch[] {
  return batches.map((b) => ({
    topic: b.topic.name,
    partition: b.partition,
    baseOffset: b.baseOffset,
    recordCount: b.recordCount,
  }));
}
