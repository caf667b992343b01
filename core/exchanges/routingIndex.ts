import type { RecordHeaders } from '../log/records.ts';
import type { BindingArguments, ExchangeType, StoredBinding, XMatch } from './exchange.ts';
import { TopicTrie } from './topicTrie.ts';

/** What routing looks at: the routing key and the message's headers. */
export interface RoutedMessage {
  readonly routingKey: string;
  readonly headers?: RecordHeaders;
}

/**
 * One exchange's bindings indexed for its type, built once per cache fill and matched per publish:
 * direct bindings in a map by key, topic bindings in a trie, fanout and headers bindings in a list
 * (fanout matches all; headers bindings are tested one by one, with their arguments pre-sorted).
 */
export class RoutingIndex {
  readonly type: ExchangeType;
  readonly size: number;
  private readonly direct = new Map<string, StoredBinding[]>();
  private readonly trie = new TopicTrie<StoredBinding>();
  private readonly all: readonly StoredBinding[];
  private readonly headers: readonly { binding: StoredBinding; match: (h: RecordHeaders) => boolean }[];

  constructor(type: ExchangeType, bindings: readonly StoredBinding[]) {
    this.type = type;
    this.size = bindings.length;
    this.all = bindings;
    this.headers = type === 'headers' ? bindings.map((b) => ({ binding: b, match: headersMatcher(b.arguments) })) : [];
    for (const b of bindings) {
      if (type === 'direct') {
        const list = this.direct.get(b.bindingKey) ?? [];
        list.push(b);
        this.direct.set(b.bindingKey, list);
      } else if (type === 'topic') this.trie.add(b.bindingKey, b);
    }
  }

  /** The bindings that match the message (each once). */
  match(message: RoutedMessage): readonly StoredBinding[] {
    switch (this.type) {
      case 'direct':
        return this.direct.get(message.routingKey) ?? [];
      case 'fanout':
        return this.all;
      case 'topic':
        return this.trie.match(message.routingKey);
      case 'headers': {
        const headers = message.headers ?? {};
        return this.headers.filter((h) => h.match(headers)).map((h) => h.binding);
      }
    }
  }
}

/**
 * RabbitMQ's headers matching (rabbit_exchange_type_headers:headers_match): `x-match` (default
 * `all`) is never compared; other arguments starting with `x-` are ignored unless x-match is
 * `all-with-x` or `any-with-x`. `all`: every argument's header is present with that value (vacuously
 * true without arguments); `any`: at least one is (false without arguments). A `null` argument asks
 * only that the header be present. Byte-valued headers never equal a string argument.
 */
export function headersMatcher(args: BindingArguments): (headers: RecordHeaders) => boolean {
  const kind = (args['x-match'] ?? 'all') as XMatch;
  const withX = kind === 'all-with-x' || kind === 'any-with-x';
  const any = kind === 'any' || kind === 'any-with-x';
  const pairs = Object.entries(args).filter(([name]) => name !== 'x-match' && (withX || !name.startsWith('x-')));
  return (headers) => {
    const one = ([name, value]: [string, string | null]): boolean =>
      Object.hasOwn(headers, name) && (value === null || headers[name] === value);
    return any ? pairs.some(one) : pairs.every(one);
  };
}
