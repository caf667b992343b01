import type { IncomingHttpHeaders } from 'node:http';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** The names that always mean this machine. Anything else in `Host` may be a rebound DNS name. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Who may talk to the local gateway. It has no authentication (anyone who reaches it is admin),
 * so two kinds of browser request are refused before anything reaches a handler:
 *
 * - a `Host` that is not a loopback name: DNS rebinding points an attacker's name at 127.0.0.1,
 *   making the attacker's page same-origin with the gateway; only the Host header still carries the
 *   attacker's name. Any port is accepted, so the gateway still answers through a port forward.
 * - a request from another origin: a page anywhere can POST an HTML form, or a `text/plain`
 *   fetch, without a CORS preflight, and the request runs even though the page cannot read the
 *   answer. Such requests carry an `Origin` header (every POST does) or `Sec-Fetch-Site`
 *   (https://fetch.spec.whatwg.org/#origin-header, https://w3c.github.io/webappsec-fetch-metadata/).
 *   Only the gateway's own origin is let through; preflights are refused the same way, and the
 *   gateway never sends CORS headers, so no other origin can read an answer either.
 *
 * Tools (curl, the client, the CLI) send a loopback Host and no Origin, and are let through.
 *
 * @returns undefined to admit the request, or the refusal to send, as typed JSON like the API's.
 * @example
 * const refusal = refuseForeignRequest(req.headers, 7070);
 * if (refusal !== undefined) return send(res, refusal);
 */
export function refuseForeignRequest(
  headers: IncomingHttpHeaders,
  gatewayPort: number,
): APIGatewayProxyStructuredResultV2 | undefined {
  const host = headers.host;
  if (host === undefined || !isLoopbackHost(host)) {
    return refusal(
      'ForeignHost',
      `The local gateway answers only requests addressed to localhost, 127.0.0.1 or [::1]; ` +
        `Host ${host === undefined ? 'is missing' : JSON.stringify(host)} is refused (DNS rebinding protection)`,
    );
  }
  const origin = headers.origin;
  if (origin !== undefined && !isOwnOrigin(origin, gatewayPort)) {
    return refusal(
      'CrossOriginRefused',
      `The local gateway refuses requests from other origins (Origin ${JSON.stringify(origin)}); ` +
        `call it from a tool such as curl or the sluice CLI, which send no Origin`,
    );
  }
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return refusal(
      'CrossOriginRefused',
      `The local gateway refuses requests a browser sends on behalf of another site (Sec-Fetch-Site ${JSON.stringify(site)})`,
    );
  }
  return undefined;
}

/** `name` or `name:port` where name is a loopback name and port is a plain number. */
function isLoopbackHost(host: string): boolean {
  const match = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(host.toLowerCase());
  return match !== null && LOOPBACK_HOSTS.has(match[1]!) && (match[2] === undefined || Number(match[2]) <= 65535);
}

/**
 * True for the gateway's own origin, as a browser serializes it: `http://` + a loopback name +
 * the gateway's port (absent when it is 80). `null` (sandboxed frames, file: pages) is foreign.
 */
function isOwnOrigin(origin: string, gatewayPort: number): boolean {
  const port = gatewayPort === 80 ? '' : `:${gatewayPort}`;
  return [...LOOPBACK_HOSTS].some((name) => origin.toLowerCase() === `http://${name}${port}`);
}

function refusal(code: 'ForeignHost' | 'CrossOriginRefused', message: string): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: 403,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: { code, message } }),
  };
}
