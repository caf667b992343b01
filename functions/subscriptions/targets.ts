import { createHmac } from 'node:crypto';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { DeliveryTarget, SubscriptionRecord } from '../../core/subscriptions/delivery.ts';
import type { Subscription } from '../../core/subscriptions/subscription.ts';
import { recordToWire, type WireRecordOut } from '../http/wire.ts';

/**
 * What a target receives, after Lambda's event-source conventions (the Kafka sources' envelope):
 * the batch's records with their topic, partition, offset, timestamp, key, value and headers, in
 * the HTTP API's wire encoding (JSON values as JSON, bytes as base64 with `…Encoding` flags).
 * A target may answer `{"batchItemFailures": [{"itemIdentifier": "<offset>"}]}` to fail only
 * some records, as with SQS and Kinesis sources.
 */
export interface SubscriptionEvent {
  readonly eventSource: 'sluice:subscription';
  readonly subscription: string;
  readonly records: (WireRecordOut & { topic: string; partition: number; eventSource: 'sluice:subscription' })[];
}

/** How long one call to a target may take before the batch counts as failed. */
export const TARGET_TIMEOUT_MS = 30_000;
/** How long a container keeps a signing secret it read. */
const SECRET_CACHE_MS = 300_000;
/** The most of a target's answer that is read (a batchItemFailures list for 1,000 records fits). */
const MAX_ANSWER_BYTES = 256 * 1024;

export function eventOf(sub: Subscription, records: readonly SubscriptionRecord[]): SubscriptionEvent {
  return {
    eventSource: 'sluice:subscription',
    subscription: sub.name,
    records: records.map((r) => ({
      eventSource: 'sluice:subscription',
      topic: r.topic,
      partition: r.partition,
      ...recordToWire(r),
    })),
  };
}

/** The offsets a target's answer names as failed (an identifier that is no offset fails the whole batch). */
export function failedOffsets(answer: unknown): number[] {
  if (typeof answer !== 'object' || answer === null || !('batchItemFailures' in answer)) return [];
  const failures = answer.batchItemFailures;
  if (!Array.isArray(failures)) return [-1];
  return failures.map((f: unknown) => {
    const id = typeof f === 'object' && f !== null ? (f as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    const n = typeof id === 'string' && /^\d{1,16}$/.test(id) ? Number(id) : typeof id === 'number' ? id : NaN;
    return Number.isSafeInteger(n) ? n : -1;
  });
}

/** A target that failed: why, in words fit for a dead letter's `error_message` (no response bodies). */
export class TargetFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetFailed';
  }
}

/**
 * The HMAC signature of a webhook delivery: `v1=<hex>` of HMAC-SHA256 over `<timestamp>.<body>`
 * with the subscription's secret (the receiver recomputes it and checks the timestamp is recent).
 */
export function signature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Delivers to Lambda functions (Invoke, RequestResponse) and HTTPS endpoints (POST, signed).
 * Endpoints come from the environment as for every AWS client (`AWS_ENDPOINT_URL_LAMBDA` on the
 * local stack), so the same code runs locally and on AWS.
 */
export class Targets implements DeliveryTarget {
  private readonly lambda: LambdaClient;
  private readonly secrets: SecretsManagerClient;
  private readonly ssm: SSMClient;
  private readonly cache = new Map<string, { value: string; until: number }>();

  constructor(options: { lambda?: LambdaClient; secrets?: SecretsManagerClient; ssm?: SSMClient } = {}) {
    this.lambda = options.lambda ?? new LambdaClient({});
    this.secrets = options.secrets ?? new SecretsManagerClient({});
    this.ssm = options.ssm ?? new SSMClient({});
  }

  async deliver(sub: Subscription, records: readonly SubscriptionRecord[]): Promise<{ failed: readonly number[] }> {
    const body = JSON.stringify(eventOf(sub, records));
    return sub.target.type === 'lambda'
      ? this.invoke(sub.target.functionName, body)
      : this.post(sub, sub.target.url, sub.target.secret, body);
  }

  private async invoke(functionName: string, body: string): Promise<{ failed: readonly number[] }> {
    let out;
    try {
      out = await this.lambda.send(
        new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: body }),
        { abortSignal: AbortSignal.timeout(TARGET_TIMEOUT_MS) },
      );
    } catch (e) {
      throw new TargetFailed(`invoking ${functionName} failed: ${(e as Error).name}`);
    }
    const text = out.Payload === undefined ? '' : new TextDecoder().decode(out.Payload).slice(0, MAX_ANSWER_BYTES);
    if (out.FunctionError !== undefined) {
      // Lambda's error payload: {errorType, errorMessage}; the message is the function's own.
      let reason = out.FunctionError;
      try {
        const e = JSON.parse(text) as { errorType?: unknown; errorMessage?: unknown };
        if (typeof e.errorMessage === 'string')
          reason = `${typeof e.errorType === 'string' ? e.errorType : 'Error'}: ${e.errorMessage}`;
      } catch {
        // not JSON: keep the kind
      }
      throw new TargetFailed(reason.slice(0, 1_000));
    }
    let answer: unknown;
    try {
      answer = text === '' ? null : JSON.parse(text);
    } catch {
      answer = null;
    }
    return { failed: failedOffsets(answer) };
  }

  private async post(sub: Subscription, url: string, secret: string | undefined, body: string) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-sluice-subscription': sub.name,
      'x-sluice-timestamp': timestamp,
    };
    if (secret !== undefined) headers['x-sluice-signature'] = signature(await this.secret(secret), timestamp, body);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(TARGET_TIMEOUT_MS),
      });
    } catch (e) {
      throw new TargetFailed(`POST to the endpoint failed: ${(e as Error).name}`);
    }
    const text = (await res.text()).slice(0, MAX_ANSWER_BYTES);
    if (!res.ok) throw new TargetFailed(`the endpoint answered ${res.status}`);
    let answer: unknown;
    try {
      answer = text === '' ? null : JSON.parse(text);
    } catch {
      answer = null;
    }
    return { failed: failedOffsets(answer) };
  }

  /** A signing secret: `ssm:<name>` from Parameter Store (decrypted), else from Secrets Manager. */
  private async secret(ref: string): Promise<string> {
    const hit = this.cache.get(ref);
    if (hit !== undefined && hit.until > Date.now()) return hit.value;
    let value: string | undefined;
    try {
      if (ref.startsWith('ssm:')) {
        const out = await this.ssm.send(new GetParameterCommand({ Name: ref.slice(4), WithDecryption: true }));
        value = out.Parameter?.Value;
      } else {
        const out = await this.secrets.send(new GetSecretValueCommand({ SecretId: ref }));
        value = out.SecretString;
      }
    } catch (e) {
      // The kind of failure only: an AWS message is not for dead letters or logs.
      throw new TargetFailed(`reading the signing secret failed: ${(e as Error).name}`);
    }
    if (value === undefined || value === '') throw new TargetFailed('the signing secret is empty');
    this.cache.set(ref, { value, until: Date.now() + SECRET_CACHE_MS });
    return value;
  }
}
