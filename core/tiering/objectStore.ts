import { NoSuchKey, S3Client, DeleteObjectsCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
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
}

export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  gets = 0;

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.objects.set(key, Uint8Array.from(bytes));
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    this.gets++;
    const object = this.objects.get(key);
    if (object === undefined) throw new CorruptData(key, 'the object is missing');
    return object.slice(start, end + 1);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.objects.delete(key);
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
