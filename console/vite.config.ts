import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

/**
 * The web console: a static single-page app under /console/, built to console/dist (gitignored).
 * `npm run build:console`; `npm start` builds it when missing or older than its sources
 * (local/consoleBuild.ts) and serves it beside the API. Hash routes, so any static host will do.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Budget: the first load stays under 250 KB gzip (the bench's `console` section measures it).
    chunkSizeWarningLimit: 250,
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});
