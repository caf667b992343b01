import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { LocalStackOptions } from '../local/stack.ts';

/** A local stack served from its own worker thread; `stop()` stops the stack and ends the thread. */
export interface StackInWorker {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts a local stack in a worker thread, with its own copy of the environment and its own
 * module graph. The handlers read their configuration (tables, `SLUICE_AUTHORIZATION`) once, at
 * module load, so two stacks configured differently cannot share one thread's modules; a worker
 * gives each its own, and leaves the main thread free to drive them both alike.
 */
export async function startStackInWorker(options: LocalStackOptions): Promise<StackInWorker> {
  const worker = new Worker(new URL(import.meta.url), { workerData: options, env: { ...process.env } });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the stack's worker exited (${code}) before it started`)));
    worker.once('message', (m: { url: string }) => resolve(m.url));
  });
  worker.removeAllListeners();
  return {
    url,
    async stop() {
      const stopped = new Promise<void>((resolve, reject) => {
        worker.once('error', reject);
        worker.once('message', () => resolve());
      });
      worker.postMessage('stop');
      await stopped;
      await worker.terminate();
    },
  };
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const { startLocalStack } = await import('../local/stack.ts');
  const stack = await startLocalStack(workerData as LocalStackOptions);
  port.once('message', () => {
    void stack.stop().then(() => port.postMessage('stopped'));
  });
  port.postMessage({ url: stack.url });
}
