import { SluiceError } from '../../core/errors.ts';

/** The request body is not valid JSON, or not the JSON object a route expects. */
export class InvalidRequest extends SluiceError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

export class RequestTooLarge extends SluiceError {
  readonly limitBytes: number;
  constructor(limitBytes: number) {
    super(`Request bodies are limited to ${limitBytes} bytes`);
    this.limitBytes = limitBytes;
  }
}

/**
 * One record is too large for any response once encoded (a Lambda response is at most 6 MB): it
 * is named, so the consumer can seek past it or read it some other way; it is never half sent.
 */
export class RecordTooLargeForResponse extends SluiceError {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly wireBytes: number;
  readonly limitBytes: number;
  constructor(topic: string, partition: number, offset: number, wireBytes: number, limitBytes: number) {
    super(
      `The record at ${topic}[${partition}] offset ${offset} is ${wireBytes} bytes as JSON, more than a response ` +
        `carries (${limitBytes}); seek past it to go on`,
    );
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.wireBytes = wireBytes;
    this.limitBytes = limitBytes;
  }
}

export class RouteNotFound extends SluiceError {
  readonly route: string;
  constructor(route: string) {
    super(`No route ${route}`);
    this.route = route;
  }
}

/** HTTP status per error code. Anything not listed is a server fault (500) and is not echoed. */
const STATUS: Record<string, number> = {
  InvalidRequest: 400,
  InvalidArgument: 400,
  InvalidRecord: 400,
  InvalidTimestamp: 400,
  InvalidTopicName: 400,
  InvalidTopicConfig: 400,
  TooManyRecords: 400,
  RouteNotFound: 404,
  NotAuthorized: 403,
  GroupNotFound: 404,
  ShareGroupNotFound: 404,
  UnknownShareMember: 404,
  ShareGroupConflict: 409,
  RecordNotHeld: 409,
  QueueNotFound: 404,
  QueueConflict: 409,
  QueueFull: 409,
  SubscriptionNotFound: 404,
  SubscriptionAlreadyExists: 409,
  SubscriptionConflict: 503,
  KeyNotQuarantined: 404,
  UnknownMember: 404,
  FencedMember: 409,
  NotAssigned: 409,
  OffsetRegression: 409,
  GroupNotEmpty: 409,
  InconsistentAssignor: 409,
  NoCommittedOffset: 409,
  GroupContention: 503,
  TopicNotFound: 404,
  PartitionNotFound: 404,
  TopicAlreadyExists: 409,
  TopicConflict: 409,
  ProducerFenced: 409,
  OutOfOrderSequence: 409,
  UnknownProducer: 409,
  DuplicateSequence: 409,
  RecordTooLarge: 413,
  RequestTooLarge: 413,
  RecordTooLargeForResponse: 413,
  OffsetOutOfRange: 416,
  AppendContention: 503,
  AppendIncomplete: 503,
  SagaNotFound: 404,
  ExecutionNotFound: 404,
  ExecutionAlreadyExists: 409,
  LaunchInProgress: 503,
  ExchangeNotFound: 404,
  ExchangeAlreadyExists: 409,
  BindingNotFound: 404,
  BindingLoop: 409,
  TooManyBindings: 409,
  NoRoute: 404,
  PublishIncomplete: 503,
  TransactionTooLarge: 413,
  TransactionConditionFailed: 409,
  InvalidTransactionState: 409,
  UnknownTransactionalId: 404,
  WrongExpectedVersion: 409,
  StreamNotFound: 404,
  JobStateTooLarge: 413,
  JobNotFound: 404,
  JobContention: 503,
  TableItemTooLarge: 413,
};

export function statusForCode(code: string): number | undefined {
  return Object.hasOwn(STATUS, code) ? STATUS[code] : undefined;
}
