import { ExchangeNotFound, TooManyBindings } from '../errors.ts';
import { bindingId, type Binding, type Exchange, type StoredBinding } from './exchange.ts';

/** An exchange and its bindings, read together (one Query in DynamoDB). */
export interface LoadedExchange {
  readonly exchange: Exchange;
  readonly bindings: readonly StoredBinding[];
}

/**
 * Where exchanges and their bindings live: the metadata table (`core/exchanges/dynamoExchangeStore.ts`),
 * or memory for unit tests. Both are held to `test/contract/exchangeStoreContract.ts`.
 */
export interface ExchangeStore {
  /** Creates the exchange unless one of that name exists; then returns the existing one, unchanged. */
  createExchange(exchange: Exchange): Promise<{ readonly exchange: Exchange; readonly created: boolean }>;
  /** The exchange and all its bindings, or undefined. */
  loadExchange(name: string): Promise<LoadedExchange | undefined>;
  /** Every exchange, by name. */
  listExchanges(): Promise<Exchange[]>;
  /**
   * Deletes the exchange, its bindings and the bindings of other exchanges to it (as RabbitMQ
   * does); false when there was none.
   */
  deleteExchange(name: string): Promise<boolean>;
  /**
   * Adds a binding to `source` (ExchangeNotFound when it, or a destination exchange, does not
   * exist; TooManyBindings past `MAX_BINDINGS`); `created: false` when an equal one was there.
   */
  putBinding(source: string, binding: Binding): Promise<{ readonly binding: StoredBinding; readonly created: boolean }>;
  /** Removes the binding equal to this one; false when there was none. */
  deleteBinding(source: string, binding: Binding): Promise<boolean>;
}

/**
 * Most bindings one exchange may have: a container reads them all (about 150 bytes each, a few
 * 1 MB query pages) whenever its cache of the exchange expires.
 */
export const MAX_BINDINGS = 20_000;

const isExchange = (b: Binding): b is Binding & { destination: { exchange: string } } => 'exchange' in b.destination;

/** The store in memory, with the DynamoDB store's rules. */
export class MemoryExchangeStore implements ExchangeStore {
  private readonly exchanges = new Map<string, Exchange>();
  private readonly bindings = new Map<string, Map<string, StoredBinding>>();
  /** How many times an exchange was loaded (tests count cache misses with it). */
  loads = 0;

  async createExchange(exchange: Exchange): Promise<{ exchange: Exchange; created: boolean }> {
    const existing = this.exchanges.get(exchange.name);
    if (existing !== undefined) return { exchange: existing, created: false };
    this.exchanges.set(exchange.name, exchange);
    this.bindings.set(exchange.name, new Map());
    return { exchange, created: true };
  }

  async loadExchange(name: string): Promise<LoadedExchange | undefined> {
    this.loads++;
    const exchange = this.exchanges.get(name);
    if (exchange === undefined) return undefined;
    return { exchange, bindings: [...this.bindings.get(name)!.values()].sort((a, b) => (a.id < b.id ? -1 : 1)) };
  }

  async listExchanges(): Promise<Exchange[]> {
    return [...this.exchanges.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async deleteExchange(name: string): Promise<boolean> {
    if (!this.exchanges.delete(name)) return false;
    this.bindings.delete(name);
    for (const bindings of this.bindings.values())
      for (const [id, b] of bindings) if (isExchange(b) && b.destination.exchange === name) bindings.delete(id);
    return true;
  }

  async putBinding(source: string, binding: Binding): Promise<{ binding: StoredBinding; created: boolean }> {
    const bindings = this.bindings.get(source);
    if (bindings === undefined) throw new ExchangeNotFound(source);
    if (isExchange(binding) && !this.exchanges.has(binding.destination.exchange))
      throw new ExchangeNotFound(binding.destination.exchange);
    const stored = { id: bindingId(binding), ...binding };
    if (bindings.has(stored.id)) return { binding: bindings.get(stored.id)!, created: false };
    if (bindings.size >= MAX_BINDINGS) throw new TooManyBindings(source, MAX_BINDINGS);
    bindings.set(stored.id, stored);
    return { binding: stored, created: true };
  }

  async deleteBinding(source: string, binding: Binding): Promise<boolean> {
    return this.bindings.get(source)?.delete(bindingId(binding)) ?? false;
  }
}
