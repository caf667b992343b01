import { describe, expect } from 'vitest';
import { fc, it } from '@fast-check/vitest';
import { bindingId, parseBinding, type Binding, type ExchangeType } from '../../core/exchanges/exchange.ts';
import { RoutingIndex } from '../../core/exchanges/routingIndex.ts';
import { TopicTrie, topicMatches } from '../../core/exchanges/topicTrie.ts';

/** An index over bindings to topics named after their keys (or given names), matched to topic names. */
function route(type: ExchangeType, bindings: readonly (Binding | string)[]) {
  const stored = bindings.map((b) => {
    const binding = typeof b === 'string' ? { destination: { topic: `to-${b}` }, bindingKey: b, arguments: {} } : b;
    return { id: bindingId(binding), ...binding };
  });
  const index = new RoutingIndex(type, stored);
  return (routingKey: string, headers: Record<string, string> = {}) =>
    index
      .match({ routingKey, headers })
      .map((b) => ('topic' in b.destination ? b.destination.topic : b.destination.exchange))
      .sort();
}

const to = (topic: string, bindingKey = '', args: Record<string, string | null> = {}): Binding =>
  parseBinding({ destination: { topic }, bindingKey, arguments: args });

describe('topic exchange: RabbitMQ tutorial 5 (https://www.rabbitmq.com/tutorials/tutorial-five-javascript)', () => {
  // Q1 is bound with *.orange.*, Q2 with *.*.rabbit and lazy.#
  const match = route('topic', [to('Q1', '*.orange.*'), to('Q2', '*.*.rabbit'), to('Q2', 'lazy.#')]);
  const table: [string, string[]][] = [
    ['quick.orange.rabbit', ['Q1', 'Q2']],
    ['lazy.orange.elephant', ['Q1', 'Q2']],
    ['quick.orange.fox', ['Q1']],
    ['lazy.brown.fox', ['Q2']],
    ['lazy.pink.rabbit', ['Q2']], // matches both of Q2's bindings: delivered once
    ['quick.brown.fox', []],
    ['orange', []], // one word: matches no binding
    ['quick.orange.new.rabbit', []], // four words
    ['lazy.orange.new.rabbit', ['Q2']], // four words, but lazy.#
    ['lazy', ['Q2']], // # matches zero words
  ];
  for (const [key, expected] of table)
    it(`${JSON.stringify(key)} → ${JSON.stringify(expected)}`, () => {
      const got = match(key);
      expect(new Set(got)).toStrictEqual(new Set(expected));
    });
  it('a topic two bindings of one exchange match is matched by both (routing delivers it once)', () => {
    expect(match('lazy.pink.rabbit')).toStrictEqual(['Q2', 'Q2']);
  });
});

describe('topic exchange: edge cases of # and * and empty words', () => {
  const table: [string, string, boolean][] = [
    ['#', '', true], // # alone matches everything, the empty key too
    ['#', 'a', true],
    ['#', 'a.b.c', true],
    ['*', '', false], // * needs exactly one word; the empty key has none
    ['*', 'a', true],
    ['*', 'a.b', false],
    ['', '', true], // the empty pattern matches only the empty key
    ['', 'a', false],
    ['a.#.b', 'a.b', true], // # matches zero words in the middle
    ['a.#.b', 'a.x.y.b', true],
    ['a.#.b', 'a.b.c', false],
    ['a.#', 'a', true],
    ['#.a', 'a', true],
    ['#.a', 'b.a', true],
    ['#.#', '', true],
    ['a.*.b', 'a..b', true], // * matches an empty word
    ['a..b', 'a..b', true],
    ['a.', 'a.', true], // a trailing dot makes an empty last word
    ['a.', 'a', false],
    ['a.*', 'a.', true],
    ['*.*', '.', true],
    ['#.*', '', false], // at least one word
    ['#.*', 'a.b.c', true],
    ['a.b', 'a.b', true],
    ['a.b', 'a.B', false], // case-sensitive
    ['a#', 'a#', true], // # inside a word is an ordinary character
    ['a#', 'ab', false],
  ];
  for (const [pattern, key, expected] of table)
    it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(key)}`, () => {
      expect(route('topic', [pattern])(key)).toStrictEqual(expected ? [`to-${pattern}`] : []);
      expect(topicMatches(pattern, key)).toBe(expected);
    });
});

describe('direct exchange', () => {
  const match = route('direct', [to('A', 'orange'), to('B', 'black'), to('B', 'green'), to('C', 'black'), to('E', '')]);
  it('routes to every binding with the exact key (multiple bindings of one key: each destination)', () => {
    expect(match('orange')).toStrictEqual(['A']);
    expect(match('black')).toStrictEqual(['B', 'C']);
    expect(match('green')).toStrictEqual(['B']);
    expect(match('Orange'), 'case-sensitive').toStrictEqual([]);
    expect(match('orange.x'), 'no patterns in direct exchanges').toStrictEqual([]);
    expect(match(''), 'the empty key matches a binding with the empty key').toStrictEqual(['E']);
  });
  it('treats * and # as ordinary characters', () => {
    expect(route('direct', ['#'])('anything')).toStrictEqual([]);
    expect(route('direct', ['#'])('#')).toStrictEqual(['to-#']);
  });
});

describe('fanout exchange', () => {
  it('routes to every binding whatever the key', () => {
    const match = route('fanout', [to('A', 'x'), to('B', '')]);
    expect(match('')).toStrictEqual(['A', 'B']);
    expect(match('whatever.key')).toStrictEqual(['A', 'B']);
  });
  it('routes nowhere without bindings', () => {
    expect(route('fanout', [])('x')).toStrictEqual([]);
  });
});

describe('headers exchange (rabbit_exchange_type_headers)', () => {
  const headers = { format: 'pdf', type: 'report', 'x-trace': '1' };
  const table: [string, Record<string, string | null>, Record<string, string>, boolean][] = [
    ['all: every argument present and equal', { format: 'pdf', type: 'report' }, headers, true],
    ['all: one value differs', { format: 'pdf', type: 'log' }, headers, false],
    ['all: one header missing', { format: 'pdf', size: 'big' }, headers, false],
    ['all is the default x-match', { format: 'pdf', size: 'big' }, headers, false],
    ['all with x-match explicit', { 'x-match': 'all', format: 'pdf' }, headers, true],
    ['any: one of them matches', { 'x-match': 'any', format: 'pdf', type: 'log' }, headers, true],
    ['any: none matches', { 'x-match': 'any', format: 'zip', type: 'log' }, headers, false],
    ['any: headers missing', { 'x-match': 'any', format: 'pdf' }, {}, false],
    ['all: no headers at all', { format: 'pdf' }, {}, false],
    ['all without arguments matches everything', { 'x-match': 'all' }, {}, true],
    ['any without arguments matches nothing', { 'x-match': 'any' }, headers, false],
    ['all ignores x- arguments', { format: 'pdf', 'x-trace': '2' }, headers, true],
    ['any ignores x- arguments', { 'x-match': 'any', 'x-trace': '1' }, headers, false],
    ['all-with-x compares x- arguments', { 'x-match': 'all-with-x', format: 'pdf', 'x-trace': '2' }, headers, false],
    ['all-with-x, x- argument equal', { 'x-match': 'all-with-x', format: 'pdf', 'x-trace': '1' }, headers, true],
    ['any-with-x matches on an x- argument', { 'x-match': 'any-with-x', 'x-trace': '1' }, headers, true],
    ['a null argument needs only presence', { format: null }, headers, true],
    ['a null argument: header absent', { size: null }, headers, false],
    ['values compare exactly', { format: 'PDF' }, headers, false],
  ];
  for (const [name, args, message, expected] of table)
    it(name, () => {
      expect(route('headers', [to('H', '', args)])('ignored.key', message)).toStrictEqual(expected ? ['H'] : []);
    });
  it('ignores the routing key', () => {
    expect(route('headers', [to('H', 'some.key', { format: 'pdf' })])('other', headers)).toStrictEqual(['H']);
  });
});

describe('the topic trie agrees with the word-by-word matcher', () => {
  const word = fc.constantFrom('a', 'b', 'c', '', '*', '#');
  const keyWord = fc.constantFrom('a', 'b', 'c', '', 'd');
  const pattern = fc.array(word, { maxLength: 6 }).map((w) => w.join('.'));
  const key = fc.oneof(
    fc.constant(''),
    fc.array(keyWord, { minLength: 1, maxLength: 7 }).map((w) => w.join('.')),
  );
  it.prop([fc.uniqueArray(pattern, { maxLength: 40 }), fc.array(key, { minLength: 1, maxLength: 20 })], {
    numRuns: 300,
  })('on random patterns and keys', (patterns, keys) => {
    const trie = new TopicTrie<string>();
    for (const p of patterns) trie.add(p, p);
    for (const k of keys) {
      const expected = patterns.filter((p) => topicMatches(p, k)).sort();
      expect(trie.match(k).sort(), `key ${JSON.stringify(k)}`).toStrictEqual(expected);
    }
  });
});

describe('binding validation', () => {
  it('refuses keys over 255 bytes, bad destinations and bad x-match', () => {
    expect(() => to('t', 'x'.repeat(256))).toThrow(/255/);
    expect(() => to('t', 'é'.repeat(128))).toThrow(/255/); // 256 bytes
    expect(() => parseBinding({ destination: { topic: 't', exchange: 'x' } })).toThrow(/one of them/);
    expect(() => parseBinding({ destination: { queue: 'q' } })).toThrow(/destination/);
    expect(() => to('t', '', { 'x-match': 'some' })).toThrow(/x-match/);
    expect(() => parseBinding({ destination: { topic: 't' }, arguments: { a: 1 } })).toThrow(/argument/);
  });
  it('gives equal bindings one id, whatever the order of their arguments', () => {
    expect(bindingId(to('t', 'k', { a: '1', b: '2' }))).toBe(bindingId(to('t', 'k', { b: '2', a: '1' })));
    expect(bindingId(to('t', 'k'))).not.toBe(bindingId(to('t', 'j')));
    expect(bindingId(to('t', 'k'))).not.toBe(
      bindingId(parseBinding({ destination: { exchange: 't' }, bindingKey: 'k' })),
    );
  });
});
