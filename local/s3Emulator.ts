import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

/**
 * The S3 emulator (s3rver, in-process, on 127.0.0.1) with the segment bucket and a second bucket
 * standing in for the S3 Express One Zone directory bucket of `storage: "s3-express"` topics (an
 * ordinary bucket: the emulator has no directory buckets), and the environment the AWS
 * SDK needs to use it correctly: path-style addressing, and checksums only when required (with the
 * SDK's defaults s3rver stores the aws-chunked framing as the object's content, silently).
 * Listing more than one page also needs Node's --openssl-legacy-provider (`npm start` sets it).
 */
export async function startS3Emulator(
  options: { bucket?: string; directory?: string } = {},
): Promise<{ env: Record<string, string> & { AWS_ENDPOINT_URL_S3: string }; stop(): Promise<void> }> {
  const bucket = options.bucket ?? 'sluice-segments';
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 'sluice-s3-'));
  mkdirSync(directory, { recursive: true });
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [
      { name: bucket, configs: [] },
      { name: `${bucket}-express`, configs: [] },
    ],
  });
  const address = await server.run();
  return {
    env: {
      AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${address.port}`,
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
      SLUICE_S3_FORCE_PATH_STYLE: 'true',
      SLUICE_SEGMENT_BUCKET: bucket,
      SLUICE_EXPRESS_BUCKET: `${bucket}-express`,
    },
    async stop() {
      await server.close();
      if (options.directory === undefined) rmSync(directory, { recursive: true, force: true });
    },
  };
}
