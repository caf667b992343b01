import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mapWithLimit } from '../../core/async.ts';
import type { DeliveryRun } from '../../core/subscriptions/delivery.ts';
import { eventHandler } from '../eventHandler.ts';
import { logger, metrics, sluice } from '../runtime.ts';
import type { TouchedPartition } from '../../core/subscriptions/watchers.ts';
import { notifyWatchers } from './notify.ts';
import { RING_ON_APPEND_ENV, rungFunctions } from './ringOnAppend.ts';
import { dispatcher, subscriptionStore, subscriptions } from './service.ts';

const runner = dispatcher();
/** Subscriptions run at once by one invocation. */
const CONCURRENCY = 4;
/** Time kept back from the function's timeout: a run stops between batches, then the invocation ends. */
const MARGIN_MS = 15_000;

/** The topic ids a stream event's INSERTs touched (the log table's `pk` is `<topicId>#<partition>`); none for a schedule. */
export function topicIdsRung(event: unknown): Set<string> | undefined {
  const records = (event as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records)) return undefined;
  const ids = new Set<string>();
  for (const r of records as { eventName?: string; dynamodb?: { Keys?: { pk?: { S?: string } } } }[]) {
    const pk = r.dynamodb?.Keys?.pk?.S;
    if (r.eventName === 'INSERT' && pk !== undefined && pk.includes('#')) ids.add(pk.slice(0, pk.lastIndexOf('#')));
  }
  return ids;
}

/** The partitions a stream event's INSERTs touched (what WebSocket watchers are rung for). */
export function touchedPartitions(event: unknown): TouchedPartition[] {
  const records = (event as { Records?: unknown } | null)?.Records;
  const touched: TouchedPartition[] = [];
  if (!Array.isArray(records)) return touched;
  for (const r of records as { eventName?: string; dynamodb?: { Keys?: { pk?: { S?: string } } } }[]) {
    const pk = r.eventName === 'INSERT' ? r.dynamodb?.Keys?.pk?.S : undefined;
    const at = pk?.lastIndexOf('#') ?? -1;
    const partition = at > 0 ? Number(pk!.slice(at + 1)) : NaN;
    if (Number.isSafeInteger(partition)) touched.push({ topicId: pk!.slice(0, at), partition });
  }
  return touched;
}

const lambda = new LambdaClient({});

/** Whether this container has brought the stack's declared subscriptions (SLUICE_SUBSCRIPTIONS) into the store. */
let declaredInPlace = false;
async function ensureDeclared(): Promise<void> {
  if (declaredInPlace) return;
  try {
    const declared: unknown = JSON.parse(process.env.SLUICE_SUBSCRIPTIONS ?? '[]');
    declaredInPlace = await subscriptions.ensure(Array.isArray(declared) ? declared : []);
  } catch (e) {
    // A bad catalog is the deployment's mistake (the construct checks it at synth); delivery goes on.
    logger.warn('Declared subscriptions not applied', { error: (e as Error).name });
  }
}

/** Invokes a function asynchronously (a doorbell: it reads what is new itself). */
async function ring(fn: string): Promise<void> {
  try {
    await lambda.send(
      new InvokeCommand({ FunctionName: fn, InvocationType: 'Event', Payload: '{"source":"dispatcher"}' }),
    );
    metrics.addMetric('FunctionRings', 'Count', 1);
  } catch (e) {
    // Its one-minute schedule runs it anyway.
    logger.warn('Ringing a function failed', { error: (e as Error).name });
  }
}

/**
 * The log table's stream's one consumer. It rings WebSocket watchers of the partitions appended
 * to (`notify.ts`), and delivers subscriptions: the stream rings it when
 * records are appended (a doorbell: the records are read through each subscription's group), and
 * only the subscriptions of the topics an append touched run, and the functions rung on appends
 * (saga triggers, stream jobs: `RING_ON_APPEND_ENV`) are rung only for their topics; a one-minute schedule runs every subscription (retries that
 * came due, a missed ring, a paused subscription leaving its group).
 */
export const handler = eventHandler(async (event: unknown, context): Promise<{ runs: DeliveryRun[] }> => {
  const deadline = Date.now() + (context.getRemainingTimeInMillis?.() ?? 60_000) - MARGIN_MS;
  await ensureDeclared();
  const rung = topicIdsRung(event);
  // WebSocket watchers first: a doorbell is cheap, and consumers waiting on it are the latency-bound ones.
  if (rung !== undefined) await notifyWatchers(touchedPartitions(event));
  const all = await subscriptionStore.list();
  const rungFns = rungFunctions(process.env[RING_ON_APPEND_ENV]);
  const ids = await sluice.topicIds([...new Set([...all.map((s) => s.topic), ...rungFns.flatMap((f) => f.topics)])]);
  // Saga triggers and stream jobs run in their own functions: rung only when an append touched one of their topics.
  if (rung !== undefined)
    await Promise.all(
      rungFns.filter((f) => f.topics.some((t) => rung.has(ids.get(t) ?? ''))).map((f) => ring(f.function)),
    );
  const due = rung === undefined ? all : all.filter((s) => rung.has(ids.get(s.topic) ?? ''));
  const runs = (
    await mapWithLimit(due, CONCURRENCY, (s) =>
      runner.run(s.name, { deadline }).catch((e: unknown) => {
        // One subscription's failure does not stop the others; it runs again on the next ring.
        logger.warn('Subscription run failed', { subscription: s.name, error: (e as Error).name });
        return undefined;
      }),
    )
  ).filter((r): r is DeliveryRun => r !== undefined);
  const sum = (k: keyof Omit<DeliveryRun, 'subscription'>) => runs.reduce((n, r) => n + r[k], 0);
  metrics.addMetric('SubscriptionRuns', 'Count', runs.length);
  metrics.addMetric('SubscriptionDelivered', 'Count', sum('delivered'));
  metrics.addMetric('SubscriptionFailedAttempts', 'Count', sum('failedAttempts'));
  metrics.addMetric('SubscriptionDeadLettered', 'Count', sum('deadLettered'));
  if (rung === undefined) {
    // The scheduled run reports quarantined keys (a gauge, alarmed on by the stack).
    let quarantined = 0;
    for (const s of all) quarantined += (await subscriptionStore.readState(s.name)).quarantined.length;
    metrics.addMetric('SubscriptionQuarantinedKeys', 'Count', quarantined);
  }
  return { runs };
});
