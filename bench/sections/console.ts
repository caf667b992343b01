import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CONSOLE_DIST } from '../../local/consoleAssets.ts';
import { ensureConsoleBuilt } from '../../local/consoleBuild.ts';
import { startLocalStack } from '../../local/stack.ts';
import { CHROMIUM, launchChromium } from '../../test/support/browser.ts';
import type { BenchSection } from '../section.ts';

const RUNS = Number(process.env.BENCH_CONSOLE_RUNS ?? 7);
const TOPICS = 20; // the topics page describes each: one request per topic
const BUDGET_KB = 250; // issue 18: JS and CSS on first load, gzip

/** The JS and CSS files index.html loads at once (its module script, preloads and stylesheets). */
export function firstLoadAssets(html: string): string[] {
  const out = new Set<string>();
  for (const m of html.matchAll(/<(?:script|link)\b[^>]*>/g)) {
    const tag = m[0];
    const url = /(?:src|href)="\/console\/([^"]+\.(?:js|css))"/.exec(tag)?.[1];
    if (url !== undefined && !/rel="(?:prefetch|icon)"/.test(tag)) out.add(url);
  }
  return [...out];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Cold loads of the topics page in Chromium against a local stack with TOPICS topics. */
async function timeFirstRender(): Promise<{
  renderMs: number;
  describedMs: number;
  paintMs: number;
  transferred: number;
}> {
  const tables = { log: 'bench-console-log', metadata: 'bench-console-meta' };
  const stack = await startLocalStack({
    port: 0,
    tieringIntervalMs: 0,
    sagas: false,
    dynamoEndpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL,
    tables,
  });
  const browser = await launchChromium();
  const renders: number[] = [];
  const described: number[] = [];
  const paints: number[] = [];
  let transferred = 0;
  try {
    for (let i = 0; i < TOPICS; i++) {
      await fetch(`${stack.url}/v1/topics`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `bench-console-${String(i).padStart(2, '0')}`, partitions: 3 }),
      });
    }
    const { page, context } = browser;
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true }); // every run a first load
    const sizes = new Map<string, number>();
    const urls = new Map<string, string>();
    cdp.on('Network.responseReceived', (e) => urls.set(e.requestId, e.response.url));
    cdp.on('Network.loadingFinished', (e) => sizes.set(e.requestId, e.encodedDataLength));
    for (let run = 0; run < RUNS; run++) {
      sizes.clear();
      await page.goto('about:blank');
      await page.goto(`${stack.url}/console/#/topics`);
      await page
        .locator('table tbody tr')
        .nth(TOPICS - 1)
        .waitFor();
      renders.push(await page.evaluate<number>('performance.now()'));
      await page.locator('[data-described="true"]').waitFor(); // every topic's partitions and sizes in
      described.push(await page.evaluate<number>('performance.now()'));
      paints.push(
        await page.evaluate<number>(
          "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN",
        ),
      );
      transferred = [...sizes]
        .filter(([id]) => /\.(js|css)$/.test(urls.get(id) ?? ''))
        .reduce((n, [, size]) => n + size, 0);
    }
  } finally {
    await browser.close();
    await stack.stop();
  }
  return { renderMs: median(renders), describedMs: median(described), paintMs: median(paints), transferred };
}

/**
 * The web console's weight and its first render: the JS and CSS that index.html loads, gzip
 * (as CloudFront sends them with compression on; the local gateway sends them as they are), and
 * how long Chromium takes from navigation to the topics table filled from the local API.
 */
export const consoleSection: BenchSection = {
  name: 'console',
  async run() {
    ensureConsoleBuilt(() => undefined);
    const html = readFileSync(join(CONSOLE_DIST, 'index.html'), 'utf8');
    const assets = firstLoadAssets(html).map((path) => {
      const bytes = readFileSync(join(CONSOLE_DIST, path));
      return { path, raw: statSync(join(CONSOLE_DIST, path)).size, gzip: gzipSync(bytes, { level: 9 }).length };
    });
    const htmlGzip = gzipSync(html, { level: 9 }).length;
    const kb = (n: number) => n / 1024;
    const totalGzip = assets.reduce((n, a) => n + a.gzip, 0);
    const totalRaw = assets.reduce((n, a) => n + a.raw, 0);

    const timing = existsSync(CHROMIUM) ? await timeFirstRender() : undefined;
    const rows = [
      ...assets.map((a) => `| ${a.path} | ${kb(a.raw).toFixed(1)} | ${kb(a.gzip).toFixed(1)} |`),
      `| index.html | ${kb(html.length).toFixed(1)} | ${kb(htmlGzip).toFixed(1)} |`,
      `| **JS + CSS on first load** | **${kb(totalRaw).toFixed(1)}** | **${kb(totalGzip).toFixed(1)}** (budget ${BUDGET_KB}) |`,
    ];
    return {
      title: 'Web console: first load and first render',
      table: [
        '| file | KB | KB gzip |',
        '|---|---:|---:|',
        ...rows,
        ...(timing === undefined
          ? []
          : [
              '',
              `| measure (median of ${RUNS} cold loads, local stack) | ms |`,
              '|---|---:|',
              `| first contentful paint | ${timing.paintMs.toFixed(0)} |`,
              `| topics page rendered (${TOPICS} rows, from the list) | ${timing.renderMs.toFixed(0)} |`,
              `| every topic described (partitions, offsets, sizes: ${TOPICS} more requests) | ${timing.describedMs.toFixed(0)} |`,
            ]),
      ].join('\n'),
      notes: [
        timing === undefined
          ? `No Chromium at ${CHROMIUM} (apt-get install chromium, or set SLUICE_CHROMIUM): first render not measured.`
          : `Chromium's network log: ${kb(timing.transferred).toFixed(1)} KB of JS and CSS transferred from the local gateway, which sends files uncompressed; CloudFront compresses them to about the gzip figure.`,
        ...(timing === undefined
          ? []
          : [
              `Times are from navigation start, in headless Chromium on this machine against the local stack (API requests on loopback): it shows the app is not slow to start, and says little about a real network, where latency to the API dominates.`,
            ]),
      ],
      summary: {
        consoleFirstLoadKb: Number(kb(totalGzip).toFixed(1)),
        ...(timing === undefined
          ? {}
          : {
              consoleTopicsFirstRenderMs: Math.round(timing.renderMs),
              consoleTopicsDescribedMs: Math.round(timing.describedMs),
              consoleFirstContentfulPaintMs: Math.round(timing.paintMs),
            }),
      },
    };
  },
};
