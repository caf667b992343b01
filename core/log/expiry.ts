import type { TopicRecord } from '../ports.ts';

/** How long a hot copy outlives the topic's hot retention before DynamoDB's TTL may remove it. */
export const DEFAULT_HOT_COPY_MARGIN_MS = 24 * 60 * 60 * 1000;

/**
 * The TTL (epoch seconds) of a hot copy appended at `appendedAt`: after its hot retention the roller
 * tiers it, and the margin covers a roller that runs late (it rolls a batch whose expiry is near
 * whatever the topic's hot retention says) and keeps rolled copies visible to writers' conditional
 * puts far longer than any writer holds an offset.
 */
export function hotCopyExpiry(topic: TopicRecord, appendedAt: number, marginMs: number): number {
  return Math.ceil((appendedAt + topic.config.hotRetentionMs + marginMs) / 1000);
}
