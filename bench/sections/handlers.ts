import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { HANDLER_ENTRY, type HandlerName } from '../../functions/http/routes.ts';
import { esbuildOptions } from '../../infra/sluiceFunction.ts';
import type { BenchSection } from '../section.ts';

const HANDLERS: HandlerName[] = ['topics', 'produce', 'fetch', 'groups', 'tiering', 'sagas'];
const RUNS = 7;
/** What the deployed functions get from the Lambda runtime (SDK) and the Powertools layer. */
const RUNTIME_MODULES = [
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/client-s3',
  '@aws-sdk/client-sfn',
  '@aws-sdk/util-dynamodb',
  '@aws-lambda-powertools/logger',
  '@aws-lambda-powertools/logger/middleware',
  '@aws-lambda-powertools/metrics',
  '@aws-lambda-powertools/metrics/middleware',
  '@aws-lambda-powertools/tracer',
  '@aws-lambda-powertools/tracer/middleware',
];

/**
 * Per handler: the deployed bundle's size (esbuild, minified, ESM, AWS SDK and Powertools left to
 * the runtime and layer, exactly as the stack bundles it) and its module initialisation time in a
 * fresh Node process, median of several, as a cold-start proxy.
 */
export const handlersSection: BenchSection = {
  name: 'handlers',
  async run() {
    const outDir = join('.sluice', 'bench', 'bundles');
    mkdirSync(outDir, { recursive: true });
    const rows: { name: string; kb: number; totalMs: number; ownMs: number }[] = [];
    for (const name of HANDLERS) {
      const outfile = join(outDir, `${name}.mjs`);
      await build(esbuildOptions(HANDLER_ENTRY[name], outfile));
      const env = {
        ...process.env,
        SLUICE_LOG_TABLE: 'bench-log',
        SLUICE_METADATA_TABLE: 'bench-meta',
        SLUICE_SEGMENT_BUCKET: 'bench-bucket',
        AWS_REGION: 'us-east-1',
        POWERTOOLS_TRACE_ENABLED: 'false',
      };
      const median = (preload: string): number => {
        const times: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          const probe = `${preload} const t = performance.now(); await import(${JSON.stringify(`./${outfile}`)}); console.log(performance.now() - t);`;
          const out = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', env });
          if (out.status !== 0) throw new Error(`init probe failed for ${name}: ${out.stderr}`);
          times.push(Number(out.stdout.trim()));
        }
        times.sort((a, b) => a - b);
        return times[Math.floor(times.length / 2)]!;
      };
      rows.push({
        name,
        kb: statSync(outfile).size / 1024,
        totalMs: median(''),
        // What the handler's own code costs once the runtime's SDK and the Powertools layer are loaded.
        ownMs: median(RUNTIME_MODULES.map((m) => `await import(${JSON.stringify(m)});`).join(' ')),
      });
    }
    const maxKb = Math.max(...rows.map((r) => r.kb));
    const maxOwn = Math.max(...rows.map((r) => r.ownMs));
    const maxTotal = Math.max(...rows.map((r) => r.totalMs));
    return {
      title: 'Handlers: bundle size and module initialisation (cold-start proxy)',
      table: [
        '| handler | bundle KB (minified, SDK and Powertools external) | own init ms | total init ms incl. SDK + Powertools |',
        '|---|---:|---:|---:|',
        ...rows.map((r) => `| ${r.name} | ${r.kb.toFixed(1)} | ${r.ownMs.toFixed(1)} | ${r.totalMs.toFixed(1)} |`),
      ].join('\n'),
      notes: [
        'Medians of 7 fresh Node processes. "Own init" loads the bundle after the AWS SDK DynamoDB client and Powertools (which Lambda provides from the runtime and the layer) are already loaded: the part Sluice controls. "Total" is a whole cold module load, SDK and Powertools included.',
        'Targets: under 150 KB and 50 ms of own init. The total is dominated by @aws-sdk/client-dynamodb and the Powertools tracer (the X-Ray SDK), each roughly 100 ms on this machine.',
      ],
      summary: {
        maxHandlerBundleKb: Number(maxKb.toFixed(1)),
        maxHandlerOwnInitMs: Number(maxOwn.toFixed(1)),
        maxHandlerTotalInitMs: Number(maxTotal.toFixed(1)),
      },
    };
  },
};
