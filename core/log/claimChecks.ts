import { randomUUID } from 'node:crypto';
import { CorruptData, RecordTooLarge } from '../errors.ts';
import type { TopicRecord } from '../ports.ts';
import { crc32c } from '../tiering/crc32c.ts';
import type { ObjectStore } from '../tiering/objectStore.ts';
import { ITEM_PAYLOAD_BUDGET } from './batching.ts';
import { ClaimCheck, claimRecord, decodeClaimedValue, type ConsumerRecord, type EncodedRecord } from './records.ts';

/** Room a claim-check reference takes in a batch: the object key (about 100 bytes) and its size and checksum. */
const CLAIM_REFERENCE_BYTES = 400;

/**
 * Claim checks: a record value too large for a log item goes to the object store, and the batch
 * carries a reference (key, size, CRC32C) that reads resolve. Without an object store, such
 * records are refused.
 */
export class ClaimChecks {
  private readonly objects: ObjectStore | undefined;

  constructor(objects: ObjectStore | undefined) {
    this.objects = objects;
  }

  /**
   * Refuses a record that is too large for the topic, or too large for an item when its value
   * cannot be claim-checked (no object store, or what stays in the batch does not fit).
   */
  check(topic: TopicRecord, record: EncodedRecord, index: number): void {
    if (record.body.length > topic.config.maxRecordBytes) {
      throw new RecordTooLarge(index, record.body.length, topic.config.maxRecordBytes, 'maxRecordBytes');
    }
    if (record.body.length <= ITEM_PAYLOAD_BUDGET) return;
    const stays = record.parts[0].length + record.parts[2].length + CLAIM_REFERENCE_BYTES;
    if (this.objects === undefined || stays > ITEM_PAYLOAD_BUDGET) {
      throw new RecordTooLarge(index, record.body.length, ITEM_PAYLOAD_BUDGET, 'itemPayloadBytes');
    }
  }

  /** Whether the record's value must go to the object store. */
  needed(record: EncodedRecord): boolean {
    return record.body.length > ITEM_PAYLOAD_BUDGET;
  }

  /**
   * Writes a large record's value under a new key and returns the record with a reference in its
   * place. The object is written before the batch that points at it; an append that then fails
   * leaves an unreferenced object behind, never a reference to nothing.
   */
  async store(topic: TopicRecord, partition: number, record: EncodedRecord): Promise<EncodedRecord> {
    const value = record.parts[1];
    const claim = new ClaimCheck(`claims/${topic.name}/${partition}/${randomUUID()}`, value.length, crc32c(value));
    await this.objects!.put(claim.key, value);
    return { ...record, body: claimRecord(record, claim).body };
  }

  /** Replaces claim checks in decoded records with their values, fetched and checked. */
  async resolve(records: ConsumerRecord[]): Promise<ConsumerRecord[]> {
    if (!records.some((r) => r.value instanceof ClaimCheck)) return records;
    return Promise.all(
      records.map(async (r) => {
        if (!(r.value instanceof ClaimCheck)) return r;
        const claim = r.value;
        if (this.objects === undefined) {
          throw new CorruptData(claim.key, 'a claim-checked record needs tiered storage configured to be read');
        }
        const bytes = await this.objects.getRange(claim.key, 0, claim.size - 1);
        if (bytes.length !== claim.size || crc32c(bytes) !== claim.crc) {
          throw new CorruptData(claim.key, `claim check of offset ${r.offset} failed its size or CRC32C check`);
        }
        return { ...r, value: decodeClaimedValue(bytes) };
      }),
    );
  }
}
