import { createReadStream, existsSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

/** Where the console is served: the same origin as the API, as CloudFront serves it when deployed. */
export const CONSOLE_BASE = '/console/';

/** The built console (`npm run build:console`, or `npm start`, which builds it when stale). */
export const CONSOLE_DIST = resolve(import.meta.dirname, '..', 'console', 'dist');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The console's page may load only its own files and call only its own origin (the API is
 * there): no inline script, no third-party anything, and no framing (clickjacking).
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * Serves the built console under /console/ on the local gateway: static files with their
 * content types, `index.html` for any other path under it (client routes), and `config.json`
 * made here with `auth: null` (the local stack has no sign-in; the deployed stack writes its own).
 * Returns true when it answered the request.
 */
export function consoleAssets(options: { dir?: string } = {}): (req: IncomingMessage, res: ServerResponse) => boolean {
  const dir = resolve(options.dir ?? CONSOLE_DIST);
  return (req, res) => {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return false;
    const path = decodePath(new URL(req.url ?? '/', 'http://local').pathname);
    if (path === '/' || path === '/console') {
      res.writeHead(302, { location: CONSOLE_BASE });
      res.end();
      return true;
    }
    if (path === undefined || !path.startsWith(CONSOLE_BASE)) return false;
    const rest = path.slice(CONSOLE_BASE.length);
    if (rest === 'config.json') {
      const body = JSON.stringify({ apiUrl: '', auth: null });
      res.writeHead(200, { 'content-type': CONTENT_TYPES['.json']!, 'cache-control': 'no-store' });
      res.end(method === 'HEAD' ? undefined : body);
      return true;
    }
    const index = join(dir, 'index.html');
    if (!existsSync(index)) {
      res.writeHead(503, { 'content-type': CONTENT_TYPES['.txt']! });
      res.end('The console is not built: run npm run build:console (npm start builds it).\n');
      return true;
    }
    const file = normalize(join(dir, rest));
    const inside = file === dir || file.startsWith(dir + sep);
    if (inside && rest !== '' && existsSync(file) && statSync(file).isFile()) {
      sendFile(res, method, file, rest.startsWith('assets/'));
      return true;
    }
    if (extname(rest) !== '' && extname(rest) !== '.html') {
      // A missing script or stylesheet is a 404, not the page (which the browser would refuse as a script).
      res.writeHead(404, { 'content-type': CONTENT_TYPES['.txt']! });
      res.end('Not found\n');
      return true;
    }
    sendFile(res, method, index, false);
    return true;
  };
}

function sendFile(res: ServerResponse, method: string, file: string, immutable: boolean): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    // Gone since it was found (a build being swapped in): a miss, not a crash of the stack.
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
    res.end('Not found\n');
    return;
  }
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': String(size),
    // Vite names built assets by their content hash; the page itself must always be fresh.
    'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...SECURITY_HEADERS,
  });
  if (method === 'HEAD') res.end();
  // A read that fails half way (the file removed under it) ends this response, not the process.
  else
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
}

function decodePath(path: string): string | undefined {
  try {
    const decoded = decodeURIComponent(path);
    return decoded.includes('\0') ? undefined : decoded;
  } catch {
    return undefined;
  }
}
