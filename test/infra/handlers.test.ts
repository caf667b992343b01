import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SLUICE_CHAIN } from '../../functions/powertools.ts';
import { localResources, synthesizeTemplate } from '../../local/cloudAssembly.ts';

/**
 * Every function the stack deploys (with the examples' saga steps) runs a middy chain: the HTTP
 * handlers through `httpHandler`, the others through `eventHandler`, so each has Powertools'
 * logger context, metrics, tracer and the error mapping.
 */
describe('deployed handlers', () => {
  it('are middy chains, each one', async () => {
    Object.assign(process.env, {
      SLUICE_LOG_TABLE: 'handlers-log',
      SLUICE_METADATA_TABLE: 'handlers-meta',
      SLUICE_SEGMENT_BUCKET: 'handlers-bucket',
      SLUICE_SAGAS: '[]',
      SLUICE_WEBSOCKET_CALLBACK_URL: 'http://127.0.0.1:9', // the notifier's management endpoint (not called)
      POWERTOOLS_TRACE_ENABLED: 'false',
    });
    const { template, sluiceIds } = synthesizeTemplate({ examples: true });
    const refs = { [sluiceIds.log]: 'log', [sluiceIds.metadata]: 'meta', [sluiceIds.bucket]: 'bucket' };
    const functions = [...localResources(template, refs).functions.values()];
    const entries = [...new Set(functions.map((f) => `${f.entry.path}#${f.entry.export}`))].sort();
    expect(
      entries.length,
      'the HTTP handlers, the roller, lag reporter, saga audit, trigger and steps',
    ).toBeGreaterThan(8);
    const chains: Record<string, unknown> = {};
    for (const entry of entries) {
      const [path, name] = entry.split('#') as [string, string];
      const handler = ((await import(join(process.cwd(), path))) as Record<string, unknown>)[name] as {
        use?: unknown;
        [SLUICE_CHAIN]?: unknown;
      };
      expect(typeof handler, entry).toBe('function');
      expect(typeof handler.use, `${entry} is a middy handler`).toBe('function');
      chains[entry] = handler[SLUICE_CHAIN];
    }
    // Built by httpHandler (API routes) or eventHandler (everything else), so each has Powertools'
    // middlewares and the error mapping; a bare middy(fn) would not carry the mark.
    for (const [entry, chain] of Object.entries(chains)) {
      expect(chain, entry).toBe(
        entry.includes('/api.ts') || /functions\/(log\/|security\/acls)/.test(entry) ? 'http' : 'event',
      );
    }
  });
});
