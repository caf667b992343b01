import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Auth, ConnectionOptions } from './http.ts';

/**
 * Whether a consumer waits for doorbells over the WebSocket API instead of long-polling:
 * `'auto'` watches where the server's WebSocket URL is known (`SLUICE_WATCH_URL`, or the local
 * stack's `ws://…/v1/watch` beside an `http:` URL) and long-polls otherwise or while it cannot
 * connect; `true` is `'auto'`; a `ws:`/`wss:` URL (the stack's `WatchUrl` output) watches there;
 * `false` always long-polls.
 */
export type WatchOption = boolean | string; // 'auto', or a ws:/wss: URL

export interface WatcherOptions {
  /** The WebSocket API: `wss://…` (the stack's `WatchUrl` output) or `ws://127.0.0.1:7070/v1/watch`. */
  readonly url: string;
  /** As the HTTP connection's: `iam` signs the upgrade request (IAM authorization on `$connect`). */
  readonly auth?: Auth;
  readonly region?: string;
  readonly credentials?: ConnectionOptions['credentials'];
  /** Close the socket this long after the last wait ended, so a finished program can exit. @default 1000 */
  readonly lingerMs?: number;
  /** Give up connecting (and long-poll meanwhile) after this long. @default 5000 */
  readonly connectTimeoutMs?: number;
  /** First pause before connecting again after a failure; doubles up to `maxBackoffMs`. @default 1000 */
  readonly backoffMs?: number;
  /** @default 60000 */
  readonly maxBackoffMs?: number;
  /** Keep-alive: send `watch` again this often (API Gateway closes a connection idle for 10 minutes). @default 540000 */
  readonly keepAliveMs?: number;
}

export type WaitOutcome = 'rung' | 'timeout' | 'unavailable';

interface Waiter {
  readonly keys: readonly string[];
  readonly since: number;
  resolve(outcome: WaitOutcome): void;
}

/**
 * A client of Sluice's WebSocket doorbell (see the README's "Waiting for free"): it watches topics,
 * counts the doorbells per partition, and lets consumers wait for one without holding an HTTP
 * request (and so a Lambda function) open. It connects on the first wait, watches what waiters
 * ask for, reconnects with exponential backoff after failures, and closes once nobody has waited
 * for `lingerMs`. A doorbell says only "records arrived": the consumer then fetches.
 *
 * @example
 * const watcher = new Watcher({ url: 'ws://127.0.0.1:7070/v1/watch' });
 * if ((await watcher.waitFor('orders', [0], 20_000)) === 'rung') await consumer.poll({ waitMs: 0 });
 */
export class Watcher {
  private readonly options: WatcherOptions;
  private socket: WebSocket | undefined;
  private opening: Promise<boolean> | undefined;
  /** Per `topic/partition` (and `topic/*` for any partition): doorbells seen. */
  private readonly counts = new Map<string, number>();
  /** Bumped on every (re)watch: a wait that began before it may have missed a doorbell. */
  private epoch = 0;
  private readonly watched = new Set<string>();
  private readonly pendingAcks = new Map<string, Array<(ok: boolean) => void>>();
  private readonly waiters = new Set<Waiter>();
  private failures = 0;
  private retryAt = 0;
  private lingerTimer: ReturnType<typeof setTimeout> | undefined;
  private keepAliveTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** Frames received, by type (tests and the bench count them). */
  readonly received = { records: 0, watching: 0, error: 0 };

  constructor(options: WatcherOptions) {
    this.options = options;
  }

  /** A number that changes whenever a doorbell for one of these partitions arrives, or a watch is renewed. */
  stamp(topic: string, partitions: readonly number[] | 'any'): number {
    return keysOf(topic, partitions).reduce((n, k) => n + (this.counts.get(k) ?? 0), this.epoch * 1e9);
  }

  /**
   * Waits for a doorbell on these partitions of `topic` (`'any'`: any partition): `'rung'` when one
   * arrives (or arrived since `since`, a `stamp`, or the watch was just renewed and one may have
   * been missed), `'timeout'`, or `'unavailable'` when the WebSocket API cannot be reached: then
   * long-poll instead.
   */
  async waitFor(
    topic: string,
    partitions: readonly number[] | 'any',
    timeoutMs: number,
    since?: number,
  ): Promise<WaitOutcome> {
    clearTimeout(this.lingerTimer);
    const before = since ?? this.stamp(topic, partitions);
    if (!(await this.ensureWatching(topic))) {
      this.scheduleLinger();
      return 'unavailable';
    }
    const keys = keysOf(topic, partitions);
    if (this.stamp(topic, partitions) !== before) {
      this.scheduleLinger();
      return 'rung';
    }
    const outcome = await new Promise<WaitOutcome>((resolve) => {
      const timer = setTimeout(() => finish('timeout'), Math.max(0, timeoutMs));
      const waiter: Waiter = { keys, since: before, resolve: (o) => finish(o) };
      const finish = (o: WaitOutcome): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(o);
      };
      this.waiters.add(waiter);
    });
    this.scheduleLinger();
    return outcome;
  }

  /** Wakes every current wait as if rung (a consumer learned something else worth a poll). */
  wake(): void {
    for (const w of [...this.waiters]) w.resolve('rung');
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.lingerTimer);
    this.disconnect();
    for (const w of [...this.waiters]) w.resolve('unavailable');
  }

  private scheduleLinger(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = setTimeout(() => {
      if (this.waiters.size === 0) this.disconnect();
    }, this.options.lingerMs ?? 1000);
    this.lingerTimer.unref?.();
  }

  private disconnect(): void {
    clearInterval(this.keepAliveTimer);
    const socket = this.socket;
    this.socket = undefined;
    this.opening = undefined;
    this.watched.clear();
    for (const acks of this.pendingAcks.values()) for (const a of acks) a(false);
    this.pendingAcks.clear();
    if (socket !== undefined && socket.readyState <= 1) socket.close(1000);
  }

  private async ensureWatching(topic: string): Promise<boolean> {
    if (this.closed) return false;
    if (!(await this.connect())) return false;
    if (this.watched.has(topic)) return true;
    const ok = await this.sendWatch([topic]);
    if (ok) {
      this.watched.add(topic);
      this.epoch++; // a doorbell before the watch took effect was not sent to us
    }
    return ok;
  }

  private sendWatch(topics: string[]): Promise<boolean> {
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== 1) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const key = topics.join(',');
      this.pendingAcks.set(key, [...(this.pendingAcks.get(key) ?? []), resolve]);
      socket.send(JSON.stringify({ action: 'watch', topics }));
      setTimeout(() => this.settleAck(key, false), this.options.connectTimeoutMs ?? 5000).unref?.();
    });
  }

  private settleAck(key: string, ok: boolean): void {
    const acks = this.pendingAcks.get(key);
    this.pendingAcks.delete(key);
    for (const a of acks ?? []) a(ok);
  }

  private connect(): Promise<boolean> {
    if (this.socket !== undefined && this.socket.readyState === 1) return Promise.resolve(true);
    if (this.opening !== undefined) return this.opening;
    if (Date.now() < this.retryAt) return Promise.resolve(false);
    this.opening = this.open().then(
      (ok) => {
        if (!ok) {
          this.opening = undefined;
          const base = this.options.backoffMs ?? 1000;
          this.retryAt = Date.now() + Math.min(this.options.maxBackoffMs ?? 60_000, base * 2 ** this.failures++);
        } else this.failures = 0;
        return ok;
      },
      () => {
        this.opening = undefined;
        return false;
      },
    );
    return this.opening;
  }

  private async open(): Promise<boolean> {
    const headers = await this.headers();
    return new Promise<boolean>((resolve) => {
      let socket: WebSocket;
      try {
        socket = new WebSocket(this.options.url, { headers });
      } catch {
        resolve(false);
        return;
      }
      const timer = setTimeout(() => {
        socket.close();
        resolve(false);
      }, this.options.connectTimeoutMs ?? 5000);
      socket.onopen = () => {
        clearTimeout(timer);
        this.socket = socket;
        this.keepAliveTimer = setInterval(() => {
          if (this.watched.size > 0) void this.sendWatch([...this.watched]);
        }, this.options.keepAliveMs ?? 540_000);
        this.keepAliveTimer.unref?.();
        resolve(true);
      };
      socket.onerror = () => {
        clearTimeout(timer);
        resolve(false);
      };
      socket.onclose = () => {
        clearTimeout(timer);
        resolve(false);
        if (this.socket === socket) this.disconnect();
        // Whoever waits learns at its next wait that the watch must be renewed (epoch moves then).
        for (const w of [...this.waiters]) w.resolve('rung');
      };
      socket.onmessage = (m: MessageEvent) => this.onFrame(typeof m.data === 'string' ? m.data : '');
    });
  }

  private onFrame(text: string): void {
    let frame: { type?: string; topic?: string; partitions?: unknown; topics?: unknown; action?: string };
    try {
      frame = JSON.parse(text) as typeof frame;
    } catch {
      return;
    }
    if (frame.type === 'records' && typeof frame.topic === 'string' && Array.isArray(frame.partitions)) {
      this.received.records++;
      const partitions = frame.partitions.filter((p): p is number => Number.isSafeInteger(p));
      for (const k of [...keysOf(frame.topic, partitions), `${frame.topic}/*`])
        this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
      for (const w of [...this.waiters])
        if (w.keys.some((k) => k === `${frame.topic}/*` || keysOf(frame.topic!, partitions).includes(k)))
          w.resolve('rung');
    } else if (frame.type === 'watching' && Array.isArray(frame.topics)) {
      this.received.watching++;
      this.settleAck(frame.topics.join(','), true);
    } else if (frame.type === 'error') {
      this.received.error++;
      // A refused watch (unknown topic, not authorized): those waits long-poll, and learn why there.
      if (frame.action === 'watch') for (const key of [...this.pendingAcks.keys()]) this.settleAck(key, false);
    }
  }

  private async headers(): Promise<Record<string, string>> {
    const auth = this.options.auth ?? (this.options.url.startsWith('wss:') ? 'iam' : 'none');
    if (typeof auth === 'object' && 'principal' in auth) return { 'x-sluice-principal': auth.principal };
    if (auth !== 'iam') return {};
    const url = new URL(this.options.url);
    const region = this.options.region ?? process.env.AWS_REGION ?? /execute-api\.([a-z0-9-]+)\./.exec(url.host)?.[1];
    if (region === undefined) return {};
    const signer = new SignatureV4({
      service: 'execute-api',
      region,
      credentials: this.options.credentials ?? fromNodeProviderChain(),
      sha256: Sha256,
    });
    const signed = await signer.sign(
      new HttpRequest({
        method: 'GET',
        protocol: 'https:',
        hostname: url.hostname,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: { host: url.host },
      }),
    );
    const { host: _host, ...rest } = signed.headers;
    return rest;
  }
}

function keysOf(topic: string, partitions: readonly number[] | 'any'): string[] {
  return partitions === 'any' ? [`${topic}/*`] : partitions.map((p) => `${topic}/${p}`);
}

/** The WebSocket URL a consumer with this option and HTTP URL watches, if any. */
export function watchUrlOf(option: WatchOption | undefined, httpUrl: string): string | undefined {
  if (option === false) return undefined;
  if (typeof option === 'string' && option !== 'auto') return option;
  if (process.env.SLUICE_WATCH_URL !== undefined && process.env.SLUICE_WATCH_URL !== '')
    return process.env.SLUICE_WATCH_URL;
  const url = new URL(httpUrl);
  if (url.protocol !== 'http:') return undefined; // on AWS the WebSocket API has its own URL (WatchUrl)
  return `ws://${url.host}/v1/watch`;
}

/**
 * How often a watching consumer polls even without a doorbell (a missed doorbell is not lost
 * records): 5 minutes, so that an idle consumer stays within SQS's idle cost (`npm run bench --
 * --only idle`: about $0.05 a month; every minute would double it).
 */
export const DEFAULT_SAFETY_POLL_MS = 300_000;

/**
 * The waiting half of a consumer's poll: with a watcher, fetch without waiting when something may
 * have arrived (a doorbell, a renewed watch, the last fetch had records, or `safetyPollMs` since
 * the last fetch), and otherwise wait for a doorbell instead of long-polling; without one (or
 * while it is unavailable), long-poll as before.
 */
export class DoorbellPoller {
  private readonly watcher: Watcher | undefined;
  private readonly safetyPollMs: number;
  private lastFetch = 0;
  private lastStamp = Number.NaN;
  private dirty = true;
  /** HTTP fetches made, by the wait they asked for (tests and the bench count long polls with it). */
  readonly fetches = { immediate: 0, longPolls: 0 };

  constructor(watcher: Watcher | undefined, safetyPollMs = DEFAULT_SAFETY_POLL_MS) {
    this.watcher = watcher;
    this.safetyPollMs = safetyPollMs;
  }

  /** Marks that the next poll should fetch at once (e.g. a rebalance is under way). */
  poke(): void {
    this.dirty = true;
    this.watcher?.wake();
  }

  async poll<T extends readonly unknown[]>(
    targets: { readonly topic: string; readonly partitions: readonly number[] | 'any' }[],
    waitMs: number,
    fetch: (waitMs: number) => Promise<T>,
  ): Promise<T> {
    const counted = (w: number): Promise<T> => {
      if (w > 0) this.fetches.longPolls++;
      else this.fetches.immediate++;
      return fetch(w);
    };
    if (this.watcher === undefined || waitMs <= 0 || targets.length === 0) return counted(waitMs);
    const deadline = Date.now() + waitMs;
    const stamp = (): number => targets.reduce((n, t) => n + this.watcher!.stamp(t.topic, t.partitions), 0);
    let last: T | undefined;
    for (;;) {
      const now = Date.now();
      const current = stamp();
      if (this.dirty || current !== this.lastStamp || now - this.lastFetch >= this.safetyPollMs) {
        this.lastStamp = current;
        this.lastFetch = now;
        this.dirty = false;
        last = await counted(0);
        if (last.length > 0) {
          this.dirty = true; // there may be more: fetch again on the next poll
          return last;
        }
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) return last ?? ([] as unknown as T);
      const until = Math.min(remaining, this.lastFetch + this.safetyPollMs - Date.now());
      // One target's wait stands for all: a doorbell for any of them changes the stamp.
      const outcome = await this.waitAny(targets, Math.max(0, until));
      if (outcome === 'unavailable') return counted(Math.max(0, deadline - Date.now()));
    }
  }

  private async waitAny(
    targets: { readonly topic: string; readonly partitions: readonly number[] | 'any' }[],
    timeoutMs: number,
  ): Promise<WaitOutcome> {
    const outcomes = targets.map((t) => this.watcher!.waitFor(t.topic, t.partitions, timeoutMs));
    const first = await Promise.race(outcomes);
    if (first === 'rung' || first === 'unavailable') this.watcher!.wake(); // end the others' waits
    const all = await Promise.all(outcomes);
    return all.includes('unavailable') ? 'unavailable' : all.includes('rung') ? 'rung' : 'timeout';
  }
}
