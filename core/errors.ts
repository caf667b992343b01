/**
 * One error family for the whole engine. Every error has a stable `code` (what callers, HTTP
 * mappers and Step Functions Catch clauses match on), a `retriable` flag and an optional `cause`.
 * Subclasses carry their context as plain fields, so `toJSON()` can put them in an API response.
 *
 * `name` is derived from the class, never typed by hand: `class TopicNotFound` has name
 * `TopicNotFound`, and its code is the same string.
 *
 * @example
 * try { await sluice.read('orders', 0, 99) }
 * catch (e) { if (isSluiceError(e, 'OffsetOutOfRange')) restartFrom(e.logStartOffset) }
 */
export abstract class SluiceError extends Error {
  /** Stable machine-readable code; equal to the class name. */
  readonly code: string;
  /** True when the same call may succeed if simply retried. */
  readonly retriable: boolean;

  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = new.target.name;
    this.retriable = options.retriable ?? false;
  }

  /** The error's public shape: code, message and context fields (never the cause or stack). */
  toJSON(): Record<string, unknown> {
    const context: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(this)) {
      if (key === 'code' || key === 'retriable' || key === 'name' || key === 'cause') continue;
      context[key] = value;
    }
    return { code: this.code, message: this.message, ...context };
  }
}

/** Guard keyed on `code`, so it works across bundles and module copies (unlike `instanceof`). */
export function isSluiceError(e: unknown, code?: string): e is SluiceError & Record<string, unknown> {
  if (typeof e !== 'object' || e === null) return false;
  const candidate = e as { code?: unknown; retriable?: unknown; toJSON?: unknown };
  if (typeof candidate.code !== 'string' || typeof candidate.retriable !== 'boolean') return false;
  if (typeof candidate.toJSON !== 'function') return false;
  return code === undefined || candidate.code === code;
}

/** Input that can never succeed: a bad name, a wrong type, an out-of-range number. */
export class InvalidArgument extends SluiceError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

export class InvalidTopicName extends SluiceError {
  readonly topic: string;
  constructor(topic: string, reason: string) {
    super(`Invalid topic name ${JSON.stringify(topic.slice(0, 300))}: ${reason}`);
    this.topic = topic.slice(0, 300);
  }
}

export class InvalidTopicConfig extends SluiceError {
  readonly key: string;
  constructor(key: string, message: string) {
    super(message);
    this.key = key;
  }
}

export class TopicAlreadyExists extends SluiceError {
  readonly topic: string;
  constructor(topic: string) {
    super(`Topic ${topic} already exists`);
    this.topic = topic;
  }
}

export class TopicNotFound extends SluiceError {
  readonly topic: string;
  constructor(topic: string) {
    super(`Topic ${topic} does not exist`);
    this.topic = topic;
  }
}

export class PartitionNotFound extends SluiceError {
  readonly topic: string;
  readonly partition: number;
  readonly partitions: number;
  constructor(topic: string, partition: number, partitions: number) {
    super(`Topic ${topic} has no partition ${partition}; it has partitions 0..${partitions - 1}`);
    this.topic = topic;
    this.partition = partition;
    this.partitions = partitions;
  }
}

/** A change to a topic lost a race with another change; re-read and try again. */
export class TopicConflict extends SluiceError {
  readonly topic: string;
  constructor(topic: string) {
    super(`Topic ${topic} was changed concurrently; re-read it and retry`, { retriable: true });
    this.topic = topic;
  }
}

/** One record of an append is malformed. Nothing of the append was written. */
export class InvalidRecord extends SluiceError {
  readonly index: number;
  readonly field: string;
  constructor(index: number, field: string, reason: string) {
    super(`Record ${index}: ${field} ${reason}`);
    this.index = index;
    this.field = field;
  }
}

/**
 * A record's timestamp lies further in the past or future than the topic allows (Kafka's
 * message.timestamp.before.max.ms and after.max.ms). Nothing of the append was written.
 */
export class InvalidTimestamp extends SluiceError {
  readonly index: number;
  readonly timestamp: number;
  readonly earliest: number | null;
  readonly latest: number | null;
  constructor(index: number, timestamp: number, earliest: number | null, latest: number | null) {
    super(
      `Record ${index}: timestamp ${timestamp} is outside what the topic accepts now ` +
        `(${earliest ?? 'any'} to ${latest ?? 'any'}; see timestampBeforeMaxMs and timestampAfterMaxMs)`,
    );
    this.index = index;
    this.timestamp = timestamp;
    this.earliest = earliest;
    this.latest = latest;
  }
}

/**
 * An append that did not finish: it ran out of time (`deadline`) or a partition failed while others
 * were written. Like Kafka's produce response, it says per record what was appended (with its
 * offset) and what was not; retrying the whole append with an idempotent producer writes only
 * what is missing and returns the original offsets of the rest.
 */
export class AppendIncomplete extends SluiceError {
  readonly topic: string;
  readonly appended: readonly { index: number; partition: number; offset: number; timestamp: number }[];
  readonly notAppended: readonly number[];
  /** Per partition that stopped: why (`Deadline` or an error's code). */
  readonly partitions: readonly { partition: number; reason: string }[];
  constructor(
    topic: string,
    appended: AppendIncomplete['appended'],
    notAppended: readonly number[],
    partitions: AppendIncomplete['partitions'],
    retriable: boolean,
  ) {
    super(
      `Append to ${topic} incomplete: ${appended.length} record(s) appended, ${notAppended.length} not ` +
        `(${partitions.map((p) => `partition ${p.partition}: ${p.reason}`).join('; ')})`,
      { retriable },
    );
    this.topic = topic;
    this.appended = appended;
    this.notAppended = notAppended;
    this.partitions = partitions;
  }
}

/** One record is larger than a limit. Nothing of the append was written. */
export class RecordTooLarge extends SluiceError {
  readonly index: number;
  readonly sizeBytes: number;
  readonly limitBytes: number;
  readonly limit: 'maxRecordBytes' | 'itemPayloadBytes';
  constructor(index: number, sizeBytes: number, limitBytes: number, limit: 'maxRecordBytes' | 'itemPayloadBytes') {
    const why =
      limit === 'maxRecordBytes'
        ? `the topic's maxRecordBytes (${limitBytes})`
        : `what one DynamoDB item can carry (${limitBytes} bytes of a 400 KB item)`;
    super(`Record ${index} is ${sizeBytes} bytes encoded, more than ${why}`);
    this.index = index;
    this.sizeBytes = sizeBytes;
    this.limitBytes = limitBytes;
    this.limit = limit;
  }
}

export class TooManyRecords extends SluiceError {
  readonly count: number;
  readonly limit: number;
  constructor(count: number, limit: number) {
    super(`An append carries at most ${limit} records; this one has ${count}. Split it.`);
    this.count = count;
    this.limit = limit;
  }
}

/** A read or seek asked for an offset the partition does not hold. */
export class OffsetOutOfRange extends SluiceError {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  constructor(topic: string, partition: number, offset: number, logStartOffset: number, highWatermark: number) {
    super(
      `Offset ${offset} is outside ${topic}[${partition}], which holds offsets ${logStartOffset} to ${highWatermark} (exclusive)`,
    );
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.logStartOffset = logStartOffset;
    this.highWatermark = highWatermark;
  }
}

/** Too many writers raced for the same partition tail; the append wrote nothing and may be retried. */
export class AppendContention extends SluiceError {
  readonly topic: string;
  readonly partition: number;
  readonly attempts: number;
  constructor(topic: string, partition: number, attempts: number) {
    super(`Gave up appending to ${topic}[${partition}] after ${attempts} conflicting attempts`, { retriable: true });
    this.topic = topic;
    this.partition = partition;
    this.attempts = attempts;
  }
}

/** A producer with an older epoch than the one on record tried to append. */
export class ProducerFenced extends SluiceError {
  readonly producerId: string;
  readonly epoch: number;
  readonly currentEpoch: number;
  constructor(producerId: string, epoch: number, currentEpoch: number) {
    super(`Producer ${producerId} epoch ${epoch} is fenced by epoch ${currentEpoch}`);
    this.producerId = producerId;
    this.epoch = epoch;
    this.currentEpoch = currentEpoch;
  }
}

/** A producer skipped sequence numbers: something it sent earlier never arrived. */
export class OutOfOrderSequence extends SluiceError {
  readonly producerId: string;
  readonly partition: number;
  readonly sequence: number;
  readonly expected: number;
  constructor(producerId: string, partition: number, sequence: number, expected: number) {
    super(`Producer ${producerId} sent sequence ${sequence} to partition ${partition}; expected ${expected}`);
    this.producerId = producerId;
    this.partition = partition;
    this.sequence = sequence;
    this.expected = expected;
  }
}

/**
 * A producer id this partition has no state for, sending a sequence other than 0: its state
 * expired after `PRODUCER_STATE_TTL_MS` idle (Kafka's UNKNOWN_PRODUCER_ID). Nothing of it is
 * remembered, so nothing it sends can be a duplicate: the client starts a new epoch and resends.
 */
export class UnknownProducer extends SluiceError {
  readonly producerId: string;
  readonly partition: number;
  readonly sequence: number;
  constructor(producerId: string, partition: number, sequence: number) {
    super(
      `Producer ${producerId} has no state on partition ${partition} (expired after a long idle); start a new epoch from sequence 0`,
    );
    this.producerId = producerId;
    this.partition = partition;
    this.sequence = sequence;
  }
}

/** A retry of a batch so old that its original offsets are no longer remembered. */
export class DuplicateSequence extends SluiceError {
  readonly producerId: string;
  readonly partition: number;
  readonly sequence: number;
  constructor(producerId: string, partition: number, sequence: number) {
    super(`Producer ${producerId} already appended sequence ${sequence} to partition ${partition}`);
    this.producerId = producerId;
    this.partition = partition;
    this.sequence = sequence;
  }
}

/** Stored bytes failed a check on read. Nothing is returned rather than wrong bytes. */
export class CorruptData extends SluiceError {
  readonly location: string;
  constructor(location: string, reason: string) {
    super(`Stored data at ${location} is corrupt: ${reason}`);
    this.location = location;
  }
}

/** A short, safe description of any value for an error message (never throws, never huge). */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return 'an array';
      if (value instanceof Uint8Array) return 'bytes';
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}

// ---------------------------------------------------------------- consumer groups

export class GroupNotFound extends SluiceError {
  readonly group: string;
  constructor(group: string) {
    super(`Consumer group ${group} does not exist`);
    this.group = group;
  }
}

/** The member is not in the group (never joined, left, or its session expired): join again. */
export class UnknownMember extends SluiceError {
  readonly group: string;
  readonly memberId: string;
  constructor(group: string, memberId: string) {
    super(`Member ${memberId} is not in group ${group} (its session may have expired); join again`);
    this.group = group;
    this.memberId = memberId;
  }
}

/** A commit from an older generation or an expired session: a zombie, fenced. */
export class FencedMember extends SluiceError {
  readonly group: string;
  readonly memberId: string;
  readonly generation: number;
  readonly currentGeneration: number;
  constructor(group: string, memberId: string, generation: number, currentGeneration: number, reason: string) {
    super(`Member ${memberId} of ${group} is fenced: ${reason}`);
    this.group = group;
    this.memberId = memberId;
    this.generation = generation;
    this.currentGeneration = currentGeneration;
  }
}

/** A commit for a partition the member does not own. */
export class NotAssigned extends SluiceError {
  readonly group: string;
  readonly memberId: string;
  readonly topic: string;
  readonly partition: number;
  constructor(group: string, memberId: string, topic: string, partition: number) {
    super(`Member ${memberId} of ${group} does not own ${topic}[${partition}]`);
    this.group = group;
    this.memberId = memberId;
    this.topic = topic;
    this.partition = partition;
  }
}

/** Committed offsets only move forward, except through an explicit reset. */
export class OffsetRegression extends SluiceError {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly committed: number;
  constructor(topic: string, partition: number, offset: number, committed: number) {
    super(
      `Cannot commit ${topic}[${partition}] back to ${offset}; ${committed} is committed. Reset the group's offsets to go back.`,
    );
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.committed = committed;
  }
}

export class GroupNotEmpty extends SluiceError {
  readonly group: string;
  readonly members: number;
  constructor(group: string, members: number, action: string) {
    super(`Cannot ${action} group ${group} while it has ${members} live member(s)`);
    this.group = group;
    this.members = members;
  }
}

export class InconsistentAssignor extends SluiceError {
  readonly group: string;
  readonly assignor: string;
  readonly requested: string;
  constructor(group: string, assignor: string, requested: string) {
    super(`Group ${group} uses the ${assignor} assignor; a member asked for ${requested}`);
    this.group = group;
    this.assignor = assignor;
    this.requested = requested;
  }
}

/** A partition has no committed offset and the member's autoOffsetReset is "error". */
export class NoCommittedOffset extends SluiceError {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  constructor(group: string, topic: string, partition: number) {
    super(`Group ${group} has no committed offset for ${topic}[${partition}] and autoOffsetReset is "error"`);
    this.group = group;
    this.topic = topic;
    this.partition = partition;
  }
}

/** Too many coordinators changed the group at once; retry. */
export class GroupContention extends SluiceError {
  readonly group: string;
  constructor(group: string) {
    super(`Group ${group} kept changing under concurrent updates; retry`, { retriable: true });
    this.group = group;
  }
}

export class SagaNotFound extends SluiceError {
  readonly saga: string;
  constructor(saga: string) {
    super(`No saga named ${JSON.stringify(saga.slice(0, 100))} is deployed`);
    this.saga = saga.slice(0, 100);
  }
}

export class ExecutionNotFound extends SluiceError {
  readonly saga: string;
  readonly executionId: string;
  constructor(saga: string, executionId: string) {
    super(`Saga ${saga} has no execution ${JSON.stringify(executionId.slice(0, 100))}`);
    this.saga = saga;
    this.executionId = executionId.slice(0, 100);
  }
}

/** The execution name is taken by an execution that was started with a different input. */
export class ExecutionAlreadyExists extends SluiceError {
  readonly saga: string;
  readonly executionId: string;
  constructor(saga: string, executionId: string) {
    super(`Saga ${saga} already has an execution named ${executionId}, started with a different input`);
    this.saga = saga;
    this.executionId = executionId;
  }
}

// ---------------------------------------------------------------- authorization

/**
 * The caller may not do this to this resource: no rule allows it, or a rule denies it. Nothing
 * was changed. The message names the operation and the resource, never the rules.
 */
export class NotAuthorized extends SluiceError {
  readonly operation: string;
  readonly resourceType: string;
  readonly resourceName: string;
  constructor(operation: string, resourceType: string, resourceName: string) {
    super(`Not authorized to ${operation} ${resourceType} ${JSON.stringify(resourceName.slice(0, 300))}`);
    this.operation = operation;
    this.resourceType = resourceType;
    this.resourceName = resourceName.slice(0, 300);
  }
}

// ---------------------------------------------------------------- exchanges

export class ExchangeNotFound extends SluiceError {
  readonly exchange: string;
  constructor(exchange: string) {
    super(`Exchange ${JSON.stringify(exchange.slice(0, 300))} does not exist`);
    this.exchange = exchange.slice(0, 300);
  }
}

/**
 * An exchange of this name exists with another type or alternate exchange (RabbitMQ's
 * PRECONDITION_FAILED on a redeclare with other arguments). Declaring it again as it is succeeds.
 */
export class ExchangeAlreadyExists extends SluiceError {
  readonly exchange: string;
  readonly type: string;
  readonly alternateExchange: string | null;
  constructor(exchange: string, type: string, alternateExchange: string | null) {
    super(
      `Exchange ${exchange} already exists as a ${type} exchange` +
        (alternateExchange === null ? '' : ` with alternate exchange ${alternateExchange}`) +
        '; delete it first to declare it differently',
    );
    this.exchange = exchange;
    this.type = type;
    this.alternateExchange = alternateExchange;
  }
}

/** An exchange-to-exchange binding that would let a message come back to an exchange it left. */
export class BindingLoop extends SluiceError {
  readonly exchange: string;
  readonly destination: string;
  readonly path: readonly string[];
  constructor(exchange: string, destination: string, path: readonly string[]) {
    super(`Binding ${exchange} to ${destination} would make a loop: ${[...path, destination].join(' → ')}`);
    this.exchange = exchange;
    this.destination = destination;
    this.path = path;
  }
}

export class BindingNotFound extends SluiceError {
  readonly exchange: string;
  constructor(exchange: string) {
    super(`Exchange ${exchange} has no such binding`);
    this.exchange = exchange;
  }
}

export class TooManyBindings extends SluiceError {
  readonly exchange: string;
  readonly limit: number;
  constructor(exchange: string, limit: number) {
    super(`Exchange ${exchange} has ${limit} bindings, the most one exchange may have; unbind some first`);
    this.exchange = exchange;
    this.limit = limit;
  }
}

/** A `mandatory` publish that no binding (nor alternate exchange) routed anywhere. Nothing was written. */
export class NoRoute extends SluiceError {
  readonly exchange: string;
  readonly routingKey: string;
  constructor(exchange: string, routingKey: string) {
    super(`No binding of exchange ${exchange} (or its alternates) routes ${JSON.stringify(routingKey.slice(0, 255))}`);
    this.exchange = exchange;
    this.routingKey = routingKey.slice(0, 255);
  }
}

/**
 * A publish that reached some destinations and failed at others. Retrying it with the same
 * `messageId` writes only what is missing; without one, it writes everything again.
 */
export class PublishIncomplete extends SluiceError {
  readonly exchange: string;
  readonly routed: readonly { topic: string; partition: number; offset: number }[];
  readonly failed: readonly { topic: string; reason: string }[];
  constructor(exchange: string, routed: PublishIncomplete['routed'], failed: PublishIncomplete['failed']) {
    super(
      `Publish to ${exchange} reached ${routed.length} destination(s) and failed at ${failed.length} ` +
        `(${failed.map((f) => `${f.topic}: ${f.reason}`).join('; ')}); retry with the same messageId`,
      { retriable: true },
    );
    this.exchange = exchange;
    this.routed = routed;
    this.failed = failed;
  }
}

/**
 * An atomic write would pass what one DynamoDB transaction holds (100 items, 4 MB). Nothing was
 * written: split it, or use a multi-request transaction (begin, append, commit).
 */
export class TransactionTooLarge extends SluiceError {
  readonly items: number;
  readonly bytes: number;
  readonly maxItems: number;
  readonly maxBytes: number;
  constructor(items: number, bytes: number, maxItems: number, maxBytes: number) {
    super(
      `The transaction needs ${items} items and ${bytes} bytes; one DynamoDB transaction holds ${maxItems} items and ${maxBytes} bytes`,
    );
    this.items = items;
    this.bytes = bytes;
    this.maxItems = maxItems;
    this.maxBytes = maxBytes;
  }
}

/** A condition of one of the caller’s own writes in a transaction failed; nothing was written. */
export class TransactionConditionFailed extends SluiceError {
  /** Index of the write (in `writes`) whose condition failed. */
  readonly write: number;
  constructor(write: number) {
    super(`The condition of write ${write} failed; nothing of the transaction was written`);
    this.write = write;
  }
}

/** The transactional producer has no open transaction of that sequence, or already has one. */
export class InvalidTransactionState extends SluiceError {
  readonly transactionalId: string;
  readonly state: string;
  constructor(transactionalId: string, message: string, state: string) {
    super(`Transactional producer ${transactionalId}: ${message}`);
    this.transactionalId = transactionalId;
    this.state = state;
  }
}

/** A transactional id that was never initialised (`init` gives it an epoch first). */
export class UnknownTransactionalId extends SluiceError {
  readonly transactionalId: string;
  constructor(transactionalId: string) {
    super(`Transactional producer ${transactionalId} is not initialised: call init first`);
    this.transactionalId = transactionalId;
  }
}

/** An event stream's version is not the one the append expected (EventStoreDB's WrongExpectedVersion). */
export class WrongExpectedVersion extends SluiceError {
  readonly streamId: string;
  readonly expectedVersion: string | number;
  /** The stream's version: its last event's number, -1 when it has none. */
  readonly actualVersion: number;
  constructor(streamId: string, expectedVersion: string | number, actualVersion: number) {
    super(`Stream ${streamId} is at version ${actualVersion}; the append expected ${expectedVersion}`);
    this.streamId = streamId;
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

/** No event stream has this id (it has no events). */
export class StreamNotFound extends SluiceError {
  readonly streamId: string;
  constructor(streamId: string) {
    super(`Stream ${streamId} has no events`);
    this.streamId = streamId;
  }
}

/**
 * A part of a stream job’s state would not fit its DynamoDB items (core/streams/stateLayout.ts):
 * one key’s state over an item, a head with too many partitions and panes, or one pane over 256
 * chunks. Nothing was written. Shorten windows or lateness, or key more coarsely.
 */
export class JobStateTooLarge extends SluiceError {
  readonly job: string;
  readonly bytes: number;
  readonly maxBytes: number;
  constructor(job: string, bytes: number, maxBytes: number) {
    super(
      `Stream job ${job}: its state is ${bytes} bytes, over the ${maxBytes} bytes its items hold; shorten windows or allowed lateness, or key more coarsely`,
    );
    this.job = job;
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/**
 * An item a stream job’s table sink (`toTable`) would write is over DynamoDB’s 400 KB item limit.
 * Nothing of the step was written. Send a smaller result to the table (`map` before `toTable`).
 */
export class TableItemTooLarge extends SluiceError {
  /** The sink’s (logical) table name. */
  readonly table: string;
  readonly pk: string;
  readonly sk: string | undefined;
  readonly bytes: number;
  readonly maxBytes: number;
  constructor(table: string, pk: string, sk: string | undefined, bytes: number, maxBytes: number) {
    super(
      `Table sink ${table}: the item ${JSON.stringify(pk)}${sk === undefined ? '' : ` / ${JSON.stringify(sk)}`} is ${bytes} bytes, over the ${maxBytes} bytes DynamoDB stores in one item; map the result to fewer attributes before toTable`,
    );
    this.table = table;
    this.pk = pk;
    this.sk = sk;
    this.bytes = bytes;
    this.maxBytes = maxBytes;
  }
}

/** No stream job of this name has committed a step (`sluice jobs list` lists those that have). */
export class JobNotFound extends SluiceError {
  readonly job: string;
  constructor(job: string) {
    super(`Stream job ${JSON.stringify(job.slice(0, 200))} does not exist (it has not committed a step yet)`);
    this.job = job.slice(0, 200);
  }
}

/** Other runners of the same stream job committed every time this one tried; nothing of its own was written. */
export class JobContention extends SluiceError {
  readonly job: string;
  readonly attempts: number;
  constructor(job: string, attempts: number) {
    super(`Stream job ${job}: its state moved under each of ${attempts} attempts (other runners); try again`, {
      retriable: true,
    });
    this.job = job;
    this.attempts = attempts;
  }
}
