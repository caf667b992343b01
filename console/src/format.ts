/** Display helpers: sizes, times, durations and record bodies. */

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatTime(ms: number | null | undefined): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '—';
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** Retention and similar: -1 is forever. */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return 'default';
  if (ms < 0) return 'forever';
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, name] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${name}`;
  return `${ms} ms`;
}

export function base64ToBytes(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** `0a 1b …` in rows of 16, at most `limit` bytes. */
export function hexDump(bytes: Uint8Array, limit = 512): string {
  const rows: string[] = [];
  const end = Math.min(bytes.length, limit);
  for (let at = 0; at < end; at += 16) {
    const row = [...bytes.subarray(at, Math.min(at + 16, end))].map((b) => b.toString(16).padStart(2, '0'));
    rows.push(`${at.toString(16).padStart(6, '0')}  ${row.join(' ')}`);
  }
  if (bytes.length > limit) rows.push(`… ${bytes.length - limit} more bytes`);
  return rows.join('\n');
}

export interface Shown {
  readonly kind: 'json' | 'text' | 'binary' | 'null';
  readonly text: string;
  readonly hex?: string;
}

/**
 * A record's key or value as the API sent it: JSON values pretty-printed (a string holding JSON
 * too), bytes (`valueEncoding: base64`) as base64 with a hex dump, null as a tombstone.
 */
export function showValue(value: unknown, encoding: 'base64' | undefined): Shown {
  if (value === null || value === undefined) return { kind: 'null', text: 'null' };
  if (encoding === 'base64' && typeof value === 'string') {
    return { kind: 'binary', text: value, hex: hexDump(base64ToBytes(value)) };
  }
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (/^[[{]/.test(trimmed)) {
      try {
        return { kind: 'json', text: JSON.stringify(JSON.parse(trimmed), null, 2) };
      } catch {
        // not JSON after all: plain text
      }
    }
    return { kind: 'text', text: value };
  }
  return { kind: 'json', text: JSON.stringify(value, null, 2) };
}

/** One line of a value for a table cell. */
export function preview(value: unknown, encoding: 'base64' | undefined, max = 80): string {
  const shown = showValue(value, encoding);
  const line = shown.kind === 'json' ? JSON.stringify(JSON.parse(shown.text)) : shown.text;
  const text = shown.kind === 'binary' ? `base64:${line}` : line;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `name: value` lines → headers; blank lines ignored. */
export function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const at = line.indexOf(':');
    if (at <= 0) throw new Error(`Header line "${line}" is not name: value`);
    headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return headers;
}

/** A produced value: JSON when it parses, else the text as a string. */
export function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
