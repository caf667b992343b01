import { request } from 'node:http';

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * Sends one HTTP request with exactly these headers, as a browser or an attacker would (fetch
 * does not let a caller set Host, Origin or Sec-Fetch-Site). `host: null` sends no Host at all.
 */
export function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string | null>,
  body?: string,
): Promise<RawAnswer> {
  const { host, ...rest } = headers;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        setHost: host === undefined,
        headers: { ...(typeof host === 'string' ? { host } : {}), ...(rest as Record<string, string>) },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
