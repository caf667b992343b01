import { useEffect, useState } from 'preact/hooks';

/**
 * Hash routes (`/console/#/topics/orders`): every page has a URL, and any static host serves
 * them from index.html alone. A route is a pattern of `/`-separated segments, `:name` capturing one.
 */
export interface Location {
  readonly path: string;
  readonly query: URLSearchParams;
}

export function currentLocation(): Location {
  const hash = window.location.hash.replace(/^#/, '') || '/topics';
  const at = hash.indexOf('?');
  return {
    path: at < 0 ? hash : hash.slice(0, at),
    query: new URLSearchParams(at < 0 ? '' : hash.slice(at + 1)),
  };
}

export function useLocation(): Location {
  const [location, setLocation] = useState(currentLocation);
  useEffect(() => {
    const onChange = () => setLocation(currentLocation());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return location;
}

/** The captured segments when `path` matches `pattern`, decoded. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if (w.startsWith(':')) {
      if (g === '') return undefined;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return undefined; // a malformed link (`%E0`): no page, rather than a blank console
      }
    } else if (w !== g) return undefined;
  }
  return params;
}

/** `#/topics/orders%2Fx`: each segment encoded. */
export function href(...segments: (string | number)[]): string {
  return `#/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;
}

export function navigate(to: string): void {
  window.location.hash = to.replace(/^#/, '');
}
