import { createHash } from 'node:crypto';
import { isSluiceError } from '../errors.ts';
import { EXCHANGE_HEADERS, type PublishRequest, type PublishResult } from '../exchanges/exchanges.ts';
import type { ConsumerRecord, RecordHeaders } from '../log/records.ts';
import type { Sluice } from '../log/sluice.ts';
import type { ArchiveReason } from './shareState.ts';
import type { ShareGroupSettings } from './shareStore.ts';

/**
 * Dead letters: what a share group (or queue) does with the records it archives. Each goes to the
 * group's dead-letter topic, or is published to its dead-letter exchange as RabbitMQ does
 * (https://www.rabbitmq.com/docs/dlx), exactly once per archived record: the append is made by an
 * idempotent producer, and the publish carries a message id, both derived from the source record,
 * so writing it again after a lost state write lands nowhere twice.
 */

/** Publishes to an exchange (an `Exchanges`): how dead letters reach a dead-letter exchange. */
export interface ExchangePublisher {
  publish(exchange: string, request: PublishRequest): Promise<PublishResult>;
}

/** An archived record, with why, how often it was delivered, and the consumer's last error. */
export interface Archive {
  readonly offset: number;
  readonly reason: ArchiveReason;
  readonly deliveryCount: number;
  readonly error?: string;
}

/** RabbitMQ's names for the reasons, in `x-death` (https://www.rabbitmq.com/docs/dlx#effects). */
const RABBITMQ_REASON: Readonly<Record<ArchiveReason, string>> = {
  rejected: 'rejected',
  'delivery-limit': 'delivery_limit',
  expired: 'expired',
  'max-length': 'maxlen',
};

/** One entry of the `x-death` header (a JSON array, newest first, as RabbitMQ's table array). */
export interface DeathEntry {
  readonly queue: string;
  readonly reason: string;
  readonly count: number;
  /** When the record was last dead-lettered from this queue for this reason (ISO 8601). */
  readonly time: string;
  /** The exchange it had been published to ('' when it was produced to the topic directly). */
  readonly exchange: string;
  readonly 'routing-keys': string[];
  /** Its per-message TTL, removed from the dead letter so that it does not expire again. */
  readonly 'original-expiration'?: string;
}

/** Records read in one request when dead letters are written. */
const READ_BYTES = 4 * 1024 * 1024;

export class DeadLetters {
  private readonly sluice: Sluice;
  private readonly exchanges: ExchangePublisher | undefined;
  private readonly now: () => number;

  constructor(options: { sluice: Sluice; exchanges?: ExchangePublisher; now: () => number }) {
    this.sluice = options.sluice;
    this.exchanges = options.exchanges;
    this.now = options.now;
  }

  /** Whether the group sends its archived records anywhere. */
  static wanted(settings: ShareGroupSettings): boolean {
    return settings.deadLetterTopic !== undefined || settings.deadLetterExchange !== undefined;
  }

  /**
   * Writes the dead letters of archived records of one partition (those no longer in the log are
   * skipped: there is nothing left to send). Throws when one could not be written; the records
   * stay archived-but-pending, and whoever next changes the partition tries again.
   */
  async write(
    settings: ShareGroupSettings,
    p: { topic: string; partition: number; key: string },
    archives: readonly Archive[],
  ): Promise<void> {
    if (!DeadLetters.wanted(settings) || archives.length === 0) return;
    const sources = await this.read(p, archives);
    const failedAt = new Date(this.now()).toISOString();
    // One at a time, in offset order: a dead-letter topic keeps the order records were archived in.
    for (const a of [...archives].sort((x, y) => x.offset - y.offset)) {
      const source = sources.get(a.offset);
      if (source === undefined) continue; // removed meanwhile (retention or compaction)
      const id = createHash('sha256').update(`${settings.name}\n${p.key}\n${a.offset}`).digest('hex').slice(0, 40);
      const headers: RecordHeaders = {
        ...source.headers,
        original_topic: p.topic,
        original_partition: String(p.partition),
        original_offset: String(a.offset),
        failed_at: failedAt,
        delivery_count: String(a.deliveryCount),
        reason: a.reason,
        share_group: settings.name,
        ...(a.error === undefined ? {} : { error_message: a.error }),
      };
      if (settings.deadLetterExchange !== undefined)
        await this.publish(settings, p.topic, source, headers, a.reason, failedAt, id);
      else
        await this.sluice.append(
          settings.deadLetterTopic!,
          [{ ...(source.key === null ? {} : { key: source.key }), value: source.value, headers }],
          { producer: { id: `dlq-${id}`, epoch: 0, sequence: 0 } },
        );
    }
  }

  /**
   * Publishes a dead letter to the group's dead-letter exchange, with RabbitMQ's `x-death` and
   * `x-first-death-*`/`x-last-death-*` headers, routed by the group's dead-letter routing key, else
   * the record's own routing key, else its topic's name (a queue's name: what RabbitMQ's default
   * exchange routes by). An exchange that does not exist, or full `reject-publish` queues as its
   * only destinations, drop it, as in RabbitMQ.
   */
  private async publish(
    settings: ShareGroupSettings,
    topic: string,
    source: ConsumerRecord,
    headers: RecordHeaders,
    reason: ArchiveReason,
    time: string,
    id: string,
  ): Promise<void> {
    const text = (name: string): string | undefined => {
      const v = headers[name];
      return typeof v === 'string' ? v : v === undefined ? undefined : new TextDecoder().decode(v);
    };
    const routingKey = text(EXCHANGE_HEADERS.routingKey) ?? topic;
    const expiration = text(EXCHANGE_HEADERS.expiration);
    const entry: DeathEntry = {
      queue: settings.name,
      reason: RABBITMQ_REASON[reason],
      count: 1,
      time,
      exchange: text(EXCHANGE_HEADERS.exchange) ?? '',
      'routing-keys': [routingKey],
      ...(expiration === undefined ? {} : { 'original-expiration': expiration }),
    };
    const deaths = xDeath(text('x-death'), entry);
    const first = deaths.at(-1)!;
    const out: Record<string, string | Uint8Array> = { ...headers };
    for (const reserved of Object.values(EXCHANGE_HEADERS)) delete out[reserved];
    Object.assign(out, {
      'x-death': JSON.stringify(deaths),
      'x-first-death-queue': text('x-first-death-queue') ?? first.queue,
      'x-first-death-reason': text('x-first-death-reason') ?? first.reason,
      'x-first-death-exchange': text('x-first-death-exchange') ?? first.exchange,
      'x-last-death-queue': entry.queue,
      'x-last-death-reason': entry.reason,
      'x-last-death-exchange': entry.exchange,
    });
    try {
      await this.exchanges!.publish(settings.deadLetterExchange!, {
        routingKey: settings.deadLetterRoutingKey ?? routingKey,
        ...(source.key === null ? {} : { key: source.key }),
        value: source.value,
        headers: out,
        messageId: `dlx-${id}`,
      });
    } catch (e) {
      // Dropped, as RabbitMQ drops a dead letter it cannot route (at-most-once dead-lettering).
      if (!isSluiceError(e, 'ExchangeNotFound') && !isSluiceError(e, 'QueueFull')) throw e;
    }
  }

  private async read(
    p: { topic: string; partition: number },
    archives: readonly Archive[],
  ): Promise<Map<number, ConsumerRecord>> {
    const out = new Map<number, ConsumerRecord>();
    const offsets = [...new Set(archives.map((a) => a.offset))].sort((a, b) => a - b);
    for (let i = 0; i < offsets.length;) {
      const from = offsets[i]!;
      let to = from;
      while (i + 1 < offsets.length && offsets[i + 1]! - to <= 100) to = offsets[++i]!;
      i++;
      for (let at = from; at <= to;) {
        const got = await this.sluice
          .read(p.topic, p.partition, at, { maxRecords: to - at + 1, maxBytes: READ_BYTES })
          .catch((e: unknown) => {
            if (isSluiceError(e, 'OffsetOutOfRange')) return undefined;
            throw e;
          });
        if (got === undefined || got.records.length === 0) break;
        for (const r of got.records) if (r.offset <= to) out.set(r.offset, r);
        at = got.nextOffset;
      }
    }
    return out;
  }
}

/**
 * The `x-death` array after one more death: RabbitMQ counts repeats of the same queue and reason
 * in one entry (its count incremented, moved to the front, the rest of it as first recorded), and
 * puts a new pair first. A header that is not such an array (set by hand, say) is started over.
 */
export function xDeath(header: string | undefined, entry: DeathEntry): DeathEntry[] {
  let previous: DeathEntry[] = [];
  try {
    const parsed: unknown = header === undefined ? [] : JSON.parse(header);
    if (Array.isArray(parsed))
      previous = parsed.filter(
        (d): d is DeathEntry =>
          typeof d === 'object' &&
          d !== null &&
          typeof (d as DeathEntry).queue === 'string' &&
          typeof (d as DeathEntry).reason === 'string' &&
          Number.isSafeInteger((d as DeathEntry).count),
      );
  } catch {
    previous = [];
  }
  const same = previous.find((d) => d.queue === entry.queue && d.reason === entry.reason);
  const rest = previous.filter((d) => d !== same);
  return [same === undefined ? entry : { ...same, count: same.count + 1 }, ...rest];
}
