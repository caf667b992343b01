import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { OffsetStore } from './consumer.ts';

/**
 * Committed offsets in a JSON file, written atomically (write, then rename), so a consumer that
 * restarts resumes where it committed. One file per consumer (like a Kafka group id).
 */
export class FileOffsetStore implements OffsetStore {
  private readonly path: string;
  private cache: Record<string, number> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  async load(topic: string, partition: number): Promise<number | undefined> {
    return (await this.read())[`${topic}/${partition}`];
  }

  async save(topic: string, partition: number, offset: number): Promise<void> {
    const offsets = await this.read();
    offsets[`${topic}/${partition}`] = offset;
    const snapshot = JSON.stringify(offsets, null, 2);
    this.writing = this.writing.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      await writeFile(`${this.path}.tmp`, snapshot);
      await rename(`${this.path}.tmp`, this.path);
    });
    await this.writing;
  }

  private async read(): Promise<Record<string, number>> {
    if (this.cache === undefined) {
      try {
        this.cache = JSON.parse(await readFile(this.path, 'utf8')) as Record<string, number>;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        this.cache = {};
      }
    }
    return this.cache;
  }
}
