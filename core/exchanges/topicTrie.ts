/**
 * Topic-exchange patterns in a trie over words, as RabbitMQ's topic exchange keeps them
 * (rabbit_db_topic_exchange): a routing key is matched by walking its words once, so the cost
 * depends on the key and on how many patterns share its prefixes, not on how many bindings exist.
 *
 * Words are separated by `.`; the empty key has no words, and `a..b` has an empty middle word
 * (RabbitMQ's split_topic_key). In a pattern, `*` matches exactly one word (an empty one too) and
 * `#` zero or more words.
 */
export function topicWords(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

interface TrieNode<T> {
  readonly children: Map<string, TrieNode<T>>;
  star: TrieNode<T> | undefined;
  hash: TrieNode<T> | undefined;
  /** Values whose pattern ends here. */
  readonly values: T[];
}

const node = <T>(): TrieNode<T> => ({ children: new Map(), star: undefined, hash: undefined, values: [] });

export class TopicTrie<T> {
  private readonly root: TrieNode<T> = node();
  private nodes = 1;

  /** Adds a value under a pattern (a value may be added under several patterns, and a pattern hold several). */
  add(pattern: string, value: T): void {
    let at = this.root;
    for (const word of topicWords(pattern)) {
      let next: TrieNode<T> | undefined;
      if (word === '*') next = at.star ??= this.count(node());
      else if (word === '#') next = at.hash ??= this.count(node());
      else {
        next = at.children.get(word);
        if (next === undefined) at.children.set(word, (next = this.count(node())));
      }
      at = next;
    }
    at.values.push(value);
  }

  /** How many nodes the trie holds (for sizing, in benchmarks). */
  get size(): number {
    return this.nodes;
  }

  /**
   * Every value whose pattern matches the key, each once per pattern that matches, in no
   * particular order. A (node, word position) pair is visited at most once, so patterns with
   * several `#` cost at most nodes × words steps, never exponential time.
   */
  match(key: string): T[] {
    const words = topicWords(key);
    const out: T[] = [];
    // The nodes visited at each word position (created lazily).
    const visited: (Set<TrieNode<T>> | undefined)[] = [];
    const visit = (at: TrieNode<T>, i: number): void => {
      let set = visited[i];
      if (set === undefined) visited[i] = set = new Set();
      if (set.has(at)) return;
      set.add(at);
      if (i === words.length) out.push(...at.values);
      if (at.hash !== undefined) for (let j = i; j <= words.length; j++) visit(at.hash, j); // `#`: zero or more words
      if (i < words.length) {
        const child = at.children.get(words[i]!);
        if (child !== undefined) visit(child, i + 1);
        if (at.star !== undefined) visit(at.star, i + 1);
      }
    };
    visit(this.root, 0);
    return out;
  }

  private count(n: TrieNode<T>): TrieNode<T> {
    this.nodes++;
    return n;
  }
}

/**
 * The same rule without an index, word by word: the reference the trie is tested against
 * (`test/unit/exchangeRouting.test.ts`), and clear enough to read as the specification.
 */
export function topicMatches(pattern: string, key: string): boolean {
  const p = topicWords(pattern);
  const k = topicWords(key);
  const at = (i: number, j: number): boolean => {
    if (i === p.length) return j === k.length;
    if (p[i] === '#') return at(i + 1, j) || (j < k.length && at(i, j + 1));
    if (j === k.length) return false;
    return (p[i] === '*' || p[i] === k[j]) && at(i + 1, j + 1);
  };
  return at(0, 0);
}
