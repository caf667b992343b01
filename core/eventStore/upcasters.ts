import { InvalidArgument } from '../errors.ts';
import type { JsonValue } from '../log/records.ts';
import type { RecordedEvent } from './events.ts';

/** Turns an event's data of one schema version into the next version's shape. */
export type Upcaster = (data: JsonValue, event: RecordedEvent) => JsonValue;

/**
 * Upcasters per event type and schema version, applied on read so that old events arrive in the
 * current shape (stored events never change). Each one takes version `n` to `n + 1`; reading
 * applies them in a chain from the stored version for as long as one is registered.
 *
 * @example
 * upcasters.register('Withdrawn', 1, (data) => ({ amountCents: Math.round(Number(data.amount) * 100) }));
 */
export class Upcasters {
  private readonly byType = new Map<string, Map<number, Upcaster>>();

  register(type: string, fromVersion: number, upcaster: Upcaster): void {
    if (!Number.isSafeInteger(fromVersion) || fromVersion < 1)
      throw new InvalidArgument('fromVersion', 'an upcaster starts from a schema version of 1 or more');
    if (typeof upcaster !== 'function') throw new InvalidArgument('upcaster', 'an upcaster is a function');
    const versions = this.byType.get(type) ?? new Map<number, Upcaster>();
    if (versions.has(fromVersion))
      throw new InvalidArgument(
        'fromVersion',
        `an upcaster of ${type} from version ${fromVersion} is registered already`,
      );
    versions.set(fromVersion, upcaster);
    this.byType.set(type, versions);
  }

  /** The event in its current shape. */
  apply(event: RecordedEvent): RecordedEvent {
    const versions = this.byType.get(event.type);
    if (versions === undefined) return event;
    let current = event;
    for (let next = versions.get(current.schemaVersion); next !== undefined; next = versions.get(current.schemaVersion))
      current = { ...current, data: next(current.data, current), schemaVersion: current.schemaVersion + 1 };
    return current;
  }
}
