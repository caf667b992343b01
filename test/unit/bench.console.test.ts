import { describe, expect, it } from 'vitest';
import { firstLoadAssets } from '../../bench/sections/console.ts';

describe('console bench: first-load assets', () => {
  it('counts the module script, preloads and stylesheets index.html names, not prefetches or icons', () => {
    const html = `<!doctype html><html><head>
      <link rel="icon" href="/console/favicon.css" />
      <script type="module" crossorigin src="/console/assets/index-a1.js"></script>
      <link rel="modulepreload" crossorigin href="/console/assets/vendor-b2.js">
      <link rel="prefetch" href="/console/assets/later-c3.js">
      <link rel="stylesheet" crossorigin href="/console/assets/index-d4.css">
    </head><body><script type="module" src="/console/assets/index-a1.js"></script></body></html>`;
    expect(firstLoadAssets(html)).toEqual(['assets/index-a1.js', 'assets/vendor-b2.js', 'assets/index-d4.css']);
  });
});
