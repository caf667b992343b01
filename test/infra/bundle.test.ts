import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { HANDLER_ENTRY, type HandlerName } from '../../functions/http/routes.ts';
import { esbuildOptions } from '../../infra/sluiceFunction.ts';
import { apiEvent, lambdaContext } from '../support/apiEvents.ts';
import { uniqueName } from '../support/names.ts';

/**
 * The deployed code is the esbuild bundle, not the source the other tests import: bundle handlers
 * exactly as the stack does and check that typed errors survive minification as typed 4xx.
 */
describe('deployed bundles', () => {
  // Inside the project, so the bundle's external imports (SDK, Powertools) resolve from node_modules.
  const dir = join('.sluice', 'test-bundles', uniqueName('b'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function bundled(
    name: HandlerName | 'sagaAudit',
  ): Promise<(event: unknown, context: unknown) => Promise<{ statusCode: number; body?: string }>> {
    mkdirSync(dir, { recursive: true });
    const outfile = join(dir, `${name}.mjs`);
    await build(esbuildOptions(name === 'sagaAudit' ? 'functions/sagas/audit.ts' : HANDLER_ENTRY[name], outfile));
    Object.assign(process.env, {
      SLUICE_LOG_TABLE: 'bundle-log',
      SLUICE_METADATA_TABLE: 'bundle-meta',
      SLUICE_SEGMENT_BUCKET: 'bundle-bucket',
      SLUICE_SAGAS: '[]',
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'CRITICAL',
    });
    return ((await import(join(process.cwd(), outfile))) as { handler: never }).handler;
  }

  it('keeps error codes through minification: a bad topic name is a 400 InvalidTopicName, not a 500', async () => {
    const topics = await bundled('topics');
    const res = await topics(
      apiEvent({ method: 'POST', route: '/v1/topics', body: { name: 'not a topic name' } }),
      lambdaContext,
    );
    expect(res.statusCode, res.body).toBe(400);
    expect(JSON.parse(res.body!).error.code).toBe('InvalidTopicName');
  });

  it('maps saga errors by code in the bundle too', async () => {
    const sagas = await bundled('sagas');
    const res = await sagas(
      apiEvent({
        method: 'POST',
        route: '/v1/sagas/{saga}/executions',
        pathParameters: { saga: 'missing' },
        body: { input: {} },
      }),
      lambdaContext,
    );
    expect(res.statusCode, res.body).toBe(404);
    expect(JSON.parse(res.body!).error.code).toBe('SagaNotFound');
  });

  it('names errors Sluice.<code> in an event handler bundle too (what Step Functions matches on)', async () => {
    const audit = await bundled('sagaAudit');
    await expect(audit({ kind: 'audit', type: 'not-an-event' }, lambdaContext)).rejects.toMatchObject({
      name: 'Sluice.InvalidArgument',
    });
  });
});
