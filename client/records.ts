/** Records as the client sends and receives them: bytes are `Uint8Array`, strings and JSON as they are. */
export type Value = Uint8Array | string | number | boolean | null | Value[] | { [key: string]: Value };

export interface Message {
  readonly key?: string | Uint8Array | null;
  readonly value: Value;
  readonly headers?: Record<string, string | Uint8Array>;
  readonly partition?: number;
  readonly timestamp?: number;
}

export interface ReceivedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: string | Uint8Array | null;
  readonly value: Value;
  readonly headers: Record<string, string | Uint8Array>;
}

/** A record as the HTTP API returns it (bytes as base64, flagged). */
interface WireOut {
  offset: number;
  timestamp: number;
  key: string | null;
  value: Value;
  headers: Record<string, string>;
  keyEncoding?: 'base64';
  valueEncoding?: 'base64';
  headerEncodings?: Record<string, 'base64'>;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const unb64 = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'base64'));

export function toWire(message: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (message.key instanceof Uint8Array) {
    out.key = b64(message.key);
    out.keyEncoding = 'base64';
  } else if (message.key !== undefined) out.key = message.key;
  if (message.value instanceof Uint8Array) {
    out.value = b64(message.value);
    out.valueEncoding = 'base64';
  } else out.value = message.value;
  if (message.headers !== undefined) {
    const headers: Record<string, string> = {};
    const encodings: Record<string, 'base64'> = {};
    for (const [name, v] of Object.entries(message.headers)) {
      if (v instanceof Uint8Array) {
        headers[name] = b64(v);
        encodings[name] = 'base64';
      } else headers[name] = v;
    }
    out.headers = headers;
    if (Object.keys(encodings).length > 0) out.headerEncodings = encodings;
  }
  if (message.partition !== undefined) out.partition = message.partition;
  if (message.timestamp !== undefined) out.timestamp = message.timestamp;
  return out;
}

export function fromWire(topic: string, partition: number, r: WireOut): ReceivedRecord {
  const headers: Record<string, string | Uint8Array> = {};
  for (const [name, v] of Object.entries(r.headers))
    headers[name] = r.headerEncodings?.[name] === 'base64' ? unb64(v) : v;
  return {
    topic,
    partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.keyEncoding === 'base64' && r.key !== null ? unb64(r.key) : r.key,
    value: r.valueEncoding === 'base64' && typeof r.value === 'string' ? unb64(r.value) : r.value,
    headers,
  };
}

export type { WireOut };
