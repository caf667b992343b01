import { eventHandler } from '../eventHandler.ts';
import { groups, metrics } from '../runtime.ts';

/**
 * Publishes consumer lag as CloudWatch metrics in embedded metric format, on a schedule: per group
 * and topic, `ConsumerLag` (records not yet committed, summed over partitions) and
 * `MaxPartitionLag`. Describing a group also removes members whose sessions ended.
 */
export async function reportLag(): Promise<{ groups: number; series: number }> {
  let series = 0;
  for (const { group } of await groups.listGroups()) {
    const description = await groups.describe(group);
    const byTopic = new Map<string, { total: number; max: number }>();
    for (const o of description.offsets) {
      const t = byTopic.get(o.topic) ?? { total: 0, max: 0 };
      byTopic.set(o.topic, { total: t.total + o.lag, max: Math.max(t.max, o.lag) });
    }
    for (const [topic, lag] of byTopic) {
      publish(group, topic, 'ConsumerLag', lag.total);
      publish(group, topic, 'MaxPartitionLag', lag.max);
      series++;
    }
  }
  metrics.addMetric('LagReports', 'Count', 1);
  return { groups: (await groups.listGroups()).length, series };
}

/** A single metric publishes on `addMetric` and then forgets its dimensions: one per value. */
function publish(group: string, topic: string, name: string, value: number): void {
  const metric = metrics.singleMetric();
  metric.addDimension('Group', group);
  metric.addDimension('Topic', topic);
  metric.addMetric(name, 'Count', value);
}

export const handler = eventHandler(reportLag);
