import { createHash, randomUUID } from 'node:crypto';
import { isSluiceError } from '../errors.ts';
import type { ConsumerGroups, GroupRecord } from '../groups/consumerGroups.ts';
import type { JsonValue } from '../log/records.ts';
import type { Leases } from '../leases.ts';
import { EVENT_HEADERS, type SagaTrigger } from './definition.ts';
import { checkExecutionName } from './executions.ts';
import type { SagaInfo, Sagas } from './sagas.ts';

/** The header a record's event type travels in (the choreography helper sets it). */
export const EVENT_TYPE_HEADER = EVENT_HEADERS.type;

export interface TriggerRun {
  readonly saga: string;
  readonly topic: string;
  /** Executions started (or found already started) for matching records. */
  readonly started: number;
  /** Records of another type, or with no JSON value. */
  readonly skipped: number;
  /** Matching records whose execution name was taken with another input. */
  readonly conflicts: number;
}

const INSTANCE_ID = 'trigger';
const SESSION_TIMEOUT_MS = 60_000;
/** Longer than a trigger function runs (one minute), so a crashed holder frees it soon after. */
const LEASE_MS = 90_000;

export type { Leases } from '../leases.ts';

/**
 * Runs the sagas' topic triggers: for each, a consumer group polls the topic and starts an
 * execution per matching record, then commits. Starts are idempotent by execution name, so a
 * crash between start and commit re-reads records without starting anything twice.
 *
 * One instance per process; memberships are kept between runs (static membership, so a new
 * process takes over a trigger without a rebalance).
 */
export class SagaTriggers {
  private readonly sagas: Sagas;
  private readonly groups: ConsumerGroups;
  private readonly members = new Map<string, string>();
  private readonly log: (message: string, details: Record<string, unknown>) => void;

  private readonly leases: Leases;
  private readonly now: () => number;

  constructor(options: {
    sagas: Sagas;
    groups: ConsumerGroups;
    leases: Leases;
    log?: (message: string, details: Record<string, unknown>) => void;
    now?: () => number;
  }) {
    this.sagas = options.sagas;
    this.groups = options.groups;
    this.leases = options.leases;
    this.log = options.log ?? (() => {});
    this.now = options.now ?? Date.now;
  }

  static groupOf(saga: string): string {
    return `sagas.${saga}.trigger`;
  }

  /**
   * Drains every trigger's topic, up to `maxPolls` polls each and until `deadline` (epoch ms: a
   * Lambda passes its remaining time, less a margin). Triggers whose topic does not exist yet are
   * skipped; one that fails does not stop the others, and the first failure is thrown at the end.
   */
  async runOnce(options: { maxPolls?: number; deadline?: number } = {}): Promise<TriggerRun[]> {
    const runs: TriggerRun[] = [];
    const failures: unknown[] = [];
    for (const saga of this.sagas.list()) {
      if (saga.trigger === undefined) continue;
      try {
        const run = await this.drain(saga, saga.trigger, options.maxPolls ?? 20, options.deadline ?? Infinity);
        if (run !== undefined) runs.push(run);
      } catch (e) {
        this.log('Saga trigger failed', { saga: saga.name, error: (e as Error).message });
        failures.push(e);
      }
    }
    if (failures.length > 0) throw failures[0];
    return runs;
  }

  private async drain(
    saga: SagaInfo,
    trigger: SagaTrigger,
    maxPolls: number,
    deadline: number,
  ): Promise<TriggerRun | undefined> {
    const group = SagaTriggers.groupOf(saga.name);
    // One drainer at a time: concurrent invocations (stream shards, the schedule) would otherwise
    // replace each other's static membership and fence each other's commits. The holder drains
    // until the topic is empty, so a caller that finds the lease held has nothing to add.
    const holder = randomUUID();
    if (!(await this.leases.acquire(`trigger#${saga.name}`, holder, this.now(), LEASE_MS)))
      return { saga: saga.name, topic: trigger.topic, started: 0, skipped: 0, conflicts: 0 };
    try {
      return await this.drainHeld(saga, trigger, group, maxPolls, deadline);
    } finally {
      await this.leases.release(`trigger#${saga.name}`, holder);
    }
  }

  private async drainHeld(
    saga: SagaInfo,
    trigger: SagaTrigger,
    group: string,
    maxPolls: number,
    deadline: number,
  ): Promise<TriggerRun | undefined> {
    const run = { saga: saga.name, topic: trigger.topic, started: 0, skipped: 0, conflicts: 0 };
    for (let poll = 0; poll < maxPolls && this.now() < deadline; poll++) {
      let memberId = this.members.get(group);
      try {
        if (memberId === undefined) {
          memberId = (
            await this.groups.join(group, {
              topics: [trigger.topic],
              instanceId: INSTANCE_ID,
              sessionTimeoutMs: SESSION_TIMEOUT_MS,
              autoOffsetReset: 'earliest',
            })
          ).memberId;
          this.members.set(group, memberId);
        }
        const polled = await this.groups.poll(group, memberId, { maxRecords: 25 });
        if (polled.records.length === 0) return run;
        for (const record of polled.records) await this.startFor(saga, trigger, record, run);
        const next = new Map<number, number>();
        for (const r of polled.records) next.set(r.partition, Math.max(next.get(r.partition) ?? 0, r.offset + 1));
        await this.groups.commit(group, {
          memberId,
          generation: polled.generation,
          offsets: [...next].map(([partition, offset]) => ({ topic: trigger.topic, partition, offset })),
        });
      } catch (e) {
        if (isSluiceError(e, 'TopicNotFound')) return undefined; // nothing to start from yet
        // Rejoin next time: a new incarnation resumes from the committed offsets, so records
        // polled but not committed (a start that failed) come again instead of being skipped.
        this.members.delete(group);
        if (isSluiceError(e, 'UnknownMember') || isSluiceError(e, 'FencedMember') || isSluiceError(e, 'NotAssigned'))
          continue;
        throw e;
      }
    }
    return run;
  }

  private async startFor(
    saga: SagaInfo,
    trigger: SagaTrigger,
    record: GroupRecord,
    run: { started: number; skipped: number; conflicts: number },
  ): Promise<void> {
    const value = jsonValue(record.value);
    const type =
      typeof record.headers[EVENT_TYPE_HEADER] === 'string'
        ? record.headers[EVENT_TYPE_HEADER]
        : typeof value === 'object' && value !== null && !Array.isArray(value)
          ? value.type
          : undefined;
    if (value === undefined || (trigger.eventType !== undefined && type !== trigger.eventType)) {
      run.skipped++;
      return;
    }
    const executionName = nameFor(trigger, record);
    try {
      await this.sagas.start(saga.name, { input: value, executionName });
      run.started++;
    } catch (e) {
      // A record that can never start an execution must not stop the ones behind it.
      if (isSluiceError(e, 'ExecutionAlreadyExists')) run.conflicts++;
      else if (isSluiceError(e, 'InvalidArgument')) run.skipped++;
      else throw e;
      this.log('Saga trigger skipped a record', {
        saga: saga.name,
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        reason: (e as Error).message,
      });
    }
  }
}

function jsonValue(value: GroupRecord['value']): JsonValue | undefined {
  if (!(value instanceof Uint8Array)) return value;
  try {
    return JSON.parse(Buffer.from(value).toString('utf8')) as JsonValue;
  } catch {
    return undefined;
  }
}

/** An execution name from the record: its position, or its key; hashed when not a valid name. */
function nameFor(trigger: SagaTrigger, record: GroupRecord): string {
  const name =
    trigger.executionName !== 'key' || record.key === null
      ? `${record.topic}.${record.partition}.${record.offset}`
      : typeof record.key === 'string'
        ? record.key
        : Buffer.from(record.key).toString('base64url');
  try {
    return checkExecutionName(name);
  } catch {
    return `h-${createHash('sha256').update(name).digest('base64url').slice(0, 43)}`;
  }
}
