import { InvalidArgument } from '../errors.ts';
import { integerOption } from './integerOption.ts';

/** An idempotent producer's identity and sequence numbers for one append (Kafka's producer id, epoch and sequence). */
export interface IdempotentProducer {
  readonly id: string;
  readonly epoch: number;
  /**
   * Sequence number of this call's first record on each partition it writes to: a number when all
   * records go to one partition, or a map from partition to sequence.
   */
  readonly sequence: number | Readonly<Record<number, number>>;
}

/** Checks the shape of untrusted producer input. */
export function validateProducer(producer: unknown): IdempotentProducer {
  const p = producer as Partial<IdempotentProducer> | null;
  if (typeof p !== 'object' || p === null)
    throw new InvalidArgument('producer', 'producer must be { id, epoch, sequence }');
  if (typeof p.id !== 'string' || p.id.length === 0 || p.id.length > 256) {
    throw new InvalidArgument('producer.id', 'producer.id must be a string of 1 to 256 characters');
  }
  integerOption('producer.epoch', p.epoch, undefined, 0, 2 ** 31 - 1);
  const seqs =
    typeof p.sequence === 'number'
      ? [p.sequence]
      : typeof p.sequence === 'object' && p.sequence !== null
        ? Object.values(p.sequence)
        : [undefined];
  for (const s of seqs) integerOption('producer.sequence', s, undefined, 0, 2 ** 31 - 1);
  return p as IdempotentProducer;
}

/** The first sequence number on each partition an append writes to. */
export function producerSequences(producer: IdempotentProducer, partitions: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const partition of partitions) {
    const seq = typeof producer.sequence === 'number' ? producer.sequence : producer.sequence[partition];
    if (seq === undefined || (typeof producer.sequence === 'number' && partitions.length > 1)) {
      throw new InvalidArgument(
        'producer.sequence',
        'give producer.sequence as { partition: sequence } for every partition this append writes to',
      );
    }
    out.set(partition, seq);
  }
  return out;
}
