import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { LOOPBACK_UNAVAILABLE, startDynamoDbLocal } from '../../local/dynamoDbLocal.ts';
import { startS3Emulator } from '../../local/s3Emulator.ts';

/** This machine's addresses other than loopback (link-local IPv6 left out: it needs a zone). */
const otherAddresses = Object.values(networkInterfaces())
  .flat()
  .filter((a) => a !== undefined && !a.internal && !(a.family === 'IPv6' && a.scopeid !== 0))
  .map((a) => a!.address);

/** Opens a TCP connection: 'open' when something listens there, 'refused' when nothing does. */
function probe(host: string, port: number): Promise<'open' | 'refused'> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: 3000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve('open');
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`no answer from ${host}:${port} within 3 s`));
    });
    socket.once('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNREFUSED' ? resolve('refused') : reject(e)));
  });
}

async function expectLoopbackOnly(port: number, skip: (note: string) => void): Promise<void> {
  expect(await probe('127.0.0.1', port), 'it serves on 127.0.0.1').toBe('open');
  if (otherAddresses.length === 0) return skip('this machine has no address but loopback to probe');
  for (const address of otherAddresses) expect(await probe(address, port), `nothing on ${address}`).toBe('refused');
}

/** Runs `body` with a PATH that has `java` but no `javac` (a JRE-only machine). */
async function withoutJavac<T>(body: () => Promise<T>): Promise<T> {
  const bin = mkdtempSync(join(tmpdir(), 'sluice-jre-'));
  symlinkSync(execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim(), join(bin, 'java'));
  const path = process.env.PATH;
  process.env.PATH = bin;
  try {
    return await body();
  } finally {
    process.env.PATH = path;
    rmSync(bin, { recursive: true, force: true });
  }
}

/** The local emulators have no authentication: they must not be reachable from other machines. */
describe('local emulators listen on loopback only', () => {
  it('DynamoDB Local is bound to 127.0.0.1', async ({ skip }) => {
    const dynamo = await startDynamoDbLocal();
    try {
      expect(dynamo.loopbackOnly).toBe(true);
      expect(new URL(dynamo.endpoint).hostname).toBe('127.0.0.1');
      await expectLoopbackOnly(dynamo.port, skip);
    } finally {
      await dynamo.stop();
    }
  });

  it('the S3 emulator is bound to 127.0.0.1', async ({ skip }) => {
    const s3 = await startS3Emulator();
    try {
      const endpoint = new URL(s3.env.AWS_ENDPOINT_URL_S3);
      expect(endpoint.hostname).toBe('127.0.0.1');
      await expectLoopbackOnly(Number(endpoint.port), skip);
    } finally {
      await s3.stop();
    }
  });

  it('without javac, DynamoDB Local refuses to start unless every interface is explicitly allowed', async ({
    skip,
  }) => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'sluice-cache-')); // no launcher compiled before
    try {
      await withoutJavac(async () => {
        await expect(startDynamoDbLocal({ cacheDir })).rejects.toThrow(LOOPBACK_UNAVAILABLE);
        const exposed = await startDynamoDbLocal({ cacheDir, allowAllInterfaces: true });
        try {
          expect(exposed.loopbackOnly).toBe(false);
          if (otherAddresses.length === 0) return skip('this machine has no address but loopback to probe');
          // The probe sees a listener on every interface: "refused" above is the binding, not the probe.
          expect(await probe(otherAddresses[0]!, exposed.port)).toBe('open');
        } finally {
          await exposed.stop();
        }
      });
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
