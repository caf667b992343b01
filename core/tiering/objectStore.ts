import {
  NoSuchKey,
  S3Client,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { CorruptData } from '../errors.ts';

/**
 * Immutable object storage for segments and claim checks. Correctness never depends on S3
 * conditional writes: keys are deterministic and an object is written before anything in
 * DynamoDB points at it, so writing it again writes the same bytes.
 */
export interface ObjectStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Bytes `start` to `end` inclusive (an explicit range; no suffix ranges). */
  getRange(key: string, start: number, end: number): Promise<Uint8Array>;
  delete(keys: readonly string[]): Promise<void>;
  /** Every object under `prefix`, with when it was last written (epoch ms), page by page. */
  list(prefix: string): AsyncIterable<{ readonly key: string; readonly modifiedAt: number }>;
}

export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  private readonly modified = new Map<string, number>();
  private readonly now: () => number;
  private readonly unordered: boolean;
  gets = 0;

  /**
   * `unorderedListing` models an S3 Express One Zone directory bucket, whose listings are not in
   * key order: code that relies on the order fails against it.
   */
  constructor(now: () => number = Date.now, options: { readonly unorderedListing?: boolean } = {}) {
    this.now = now;
    this.unordered = options.unorderedListing ?? false;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.objects.set(key, Uint8Array.from(bytes));
    this.modified.set(key, this.now());
  }

  async *list(prefix: string): AsyncIterable<{ key: string; modifiedAt: number }> {
    const keys = [...this.objects.keys()].sort();
    if (this.unordered) keys.reverse(); // the order most unlike key order
    for (const key of keys) if (key.startsWith(prefix)) yield { key, modifiedAt: this.modified.get(key)! };
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    this.gets++;
    const object = this.objects.get(key);
    if (object === undefined) throw new CorruptData(key, 'the object is missing');
    return object.slice(start, end + 1);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      this.objects.delete(key);
      this.modified.delete(key);
    }
  }
}

export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  gets = 0;

  constructor(options: { client: S3Client; bucket: string }) {
    this.client = options.client;
    this.bucket = options.bucket;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: 'application/octet-stream',
      }),
    );
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    this.gets++;
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end}` }),
      );
      return await out.Body!.transformToByteArray();
    } catch (e) {
      if (e instanceof NoSuchKey) throw new CorruptData(key, 'the object is missing');
      throw e;
    }
  }

  async *list(prefix: string): AsyncIterable<{ key: string; modifiedAt: number }> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? [])
        if (o.Key !== undefined) yield { key: o.Key, modifiedAt: o.LastModified?.getTime() ?? 0 };
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const out = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
      const failed = out.Errors ?? [];
      if (failed.length > 0)
        throw new Error(`S3 did not delete ${failed.length} object(s), e.g. ${failed[0]!.Key}: ${failed[0]!.Code}`);
    }
  }
}

/** An S3 client from the environment; path-style addressing for emulators when asked. */
export function s3ClientFromEnv(): S3Client {
  return new S3Client({ forcePathStyle: process.env.SLUICE_S3_FORCE_PATH_STYLE === 'true', maxAttempts: 5 });
}
