import type { Reducer } from '../core/eventStore/aggregates.ts';
import type { EventInput, ExpectedVersion, RecordedEvent } from '../core/eventStore/events.ts';
import type { AppendResult, ReadStreamResult, StreamDescription } from '../core/eventStore/eventStore.ts';
import { Upcasters, type Upcaster } from '../core/eventStore/upcasters.ts';
import { Connection, type ConnectionOptions } from './http.ts';

export type { AppendResult, EventInput, ExpectedVersion, RecordedEvent, Reducer, ReadStreamResult, StreamDescription };

const streamPath = (streamId: string): string => `v1/streams/${encodeURIComponent(streamId)}`;

/**
 * Event streams over the HTTP API (routes under /v1/streams): appends with an expected version,
 * stream reads (upcast here, by the upcasters registered on this client), and aggregates folded
 * here, now or at a version or a time. Snapshots and projections belong to the library
 * (core/eventStore), next to the tables they write.
 *
 * @example
 * const streams = new EventStreams({ url });
 * await streams.append('account-1', [{ type: 'Opened', data: { owner: 'ada' } }], { expectedVersion: 'noStream' });
 * const { state } = await streams.load('account-1', reducer, { at: { timestamp: Date.parse('2026-11-01') } });
 */
export class EventStreams {
  private readonly http: Connection;
  readonly upcasters = new Upcasters();

  constructor(options: ConnectionOptions | Connection) {
    this.http = options instanceof Connection ? options : new Connection(options);
  }

  /** Registers an upcaster of `type` from schema version `fromVersion` to the next, applied on read. */
  registerUpcaster(type: string, fromVersion: number, upcaster: Upcaster): void {
    this.upcasters.register(type, fromVersion, upcaster);
  }

  /**
   * Appends events if the stream is as `expectedVersion` says; else the API error
   * `WrongExpectedVersion` (409) carries `actualVersion` in its details, and nothing was written.
   */
  append(
    streamId: string,
    events: readonly EventInput[],
    options: { expectedVersion: ExpectedVersion },
  ): Promise<AppendResult> {
    return this.http.request('POST', `${streamPath(streamId)}/events`, {
      body: { events, expectedVersion: options.expectedVersion },
    });
  }

  /** One page of a stream's events, upcast; `nextVersion` says where the next page starts. */
  async read(
    streamId: string,
    options: { fromVersion?: number; toVersion?: number; maxCount?: number } = {},
  ): Promise<ReadStreamResult> {
    const page = await this.http.request<ReadStreamResult>('GET', `${streamPath(streamId)}/events`, {
      query: { fromVersion: options.fromVersion, toVersion: options.toVersion, maxCount: options.maxCount },
    });
    return { ...page, events: page.events.map((e) => this.upcasters.apply(e)) };
  }

  /** Every event of a stream from `fromVersion` (to `toVersion`), page after page. */
  async *events(
    streamId: string,
    options: { fromVersion?: number; toVersion?: number } = {},
  ): AsyncGenerator<RecordedEvent> {
    for (let from: number | undefined = options.fromVersion ?? 0; from !== undefined;) {
      const page = await this.read(streamId, { ...options, fromVersion: from });
      yield* page.events;
      from = page.events.length === 0 ? undefined : page.nextVersion;
    }
  }

  /** A stream's version, partition, last timestamp and snapshots (404 `StreamNotFound` when it has no events). */
  describe(streamId: string): Promise<StreamDescription> {
    return this.http.request('GET', streamPath(streamId));
  }

  /**
   * Folds a stream's events with `reducer`: all of them, or up to a version, or those
   * timestamped at or before a time (a stream's timestamps never decrease, so the fold stops at
   * the first later one).
   */
  async load<S>(
    streamId: string,
    reducer: Pick<Reducer<S>, 'initial' | 'apply'>,
    options: { at?: number | { timestamp: number } } = {},
  ): Promise<{ state: S; version: number }> {
    const at = options.at;
    let state = reducer.initial();
    let version = -1;
    if (typeof at === 'number' && at < 0) return { state, version };
    for await (const event of this.events(streamId, typeof at === 'number' ? { toVersion: at } : {})) {
      if (typeof at === 'object' && event.timestamp > at.timestamp) break;
      state = reducer.apply(state, event);
      version = event.version;
    }
    return { state, version };
  }
}
