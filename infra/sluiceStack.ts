import {
  Annotations,
  CfnResource,
  CfnOutput,
  Duration,
  Lazy,
  RemovalPolicy,
  Stack,
  Validations,
  type StackProps,
} from 'aws-cdk-lib';
import { CfnStage, HttpApi, HttpMethod, type IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal, type Role } from 'aws-cdk-lib/aws-iam';
import { Key, type IKey } from 'aws-cdk-lib/aws-kms';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import {
  FilterCriteria,
  FilterRule,
  Function as LambdaFn,
  LayerVersion,
  StartingPosition,
  type CfnFunction,
  type IFunction,
  type ILayerVersion,
  type Runtime,
} from 'aws-cdk-lib/aws-lambda';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { DynamoEventSource, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { CfnDirectoryBucket } from 'aws-cdk-lib/aws-s3express';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import { LOG_TABLE, METADATA_TABLE, TABLE_NAME_ENV, TIME_INDEX, metadataKeys } from '../core/schema.ts';
import { validateTopicName } from '../core/log/topicConfig.ts';
import { HANDLER_ENTRY, ROUTES, type HandlerName } from '../functions/http/routes.ts';
import { STREAM_JOB_ENV } from '../functions/streams/processorEnv.ts';
import { RING_ON_APPEND_ENV } from '../functions/subscriptions/ringOnAppend.ts';
import type { SagaInfo } from '../core/sagas/sagas.ts';
import { ACL_PARTITION, authorizationEnvironment, oauthScope } from './authorization.ts';
import { bindIndex, bindTable, type TableAccess } from './bindTable.ts';
import { sluiceFunction } from './sluiceFunction.ts';
import { Subscription, type SubscriptionDeclaration, type SubscriptionHost } from './subscriptions/subscription.ts';
import { WatchApi } from './subscriptions/watchApi.ts';
import { SluiceConsole, type ConsoleProps } from './console/sluiceConsole.ts';

export interface SluiceStackProps extends StackProps {
  /**
   * Prefix for physical names (tables, bucket, functions). Omit to let CloudFormation name them.
   * @default - generated names
   */
  readonly namePrefix?: string;
  /**
   * What happens to the tables and the bucket when the stack is deleted.
   * @default RemovalPolicy.RETAIN - an event log is data you keep
   */
  readonly removalPolicy?: RemovalPolicy;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** @default Runtime.NODEJS_22_X */
  readonly runtime?: Runtime;
  /**
   * How callers authenticate. IAM (SigV4) by default; or a JWT authorizer (Cognito, Auth0, …).
   * @default { type: 'iam' }
   */
  readonly auth?: { readonly type: 'iam' } | JwtAuth;
  /**
   * Who may do what once authenticated. `open`: any authenticated caller may do anything (today's
   * behaviour; synth warns). `acl`: the handlers allow an operation only to admin principals and
   * to principals an ACL rule (metadata partition `acl`) allows it, like Kafka's authorizer.
   * @default 'open'
   */
  readonly authorization?: 'acl' | 'open';
  /**
   * Super users (Kafka's `super.users`): principals allowed everything under `acl`. Each is
   * `iam:<role, user or assumed-role ARN>` or `jwt:<value>` (a JWT subject, or a value of one of
   * `auth.principalClaims`), e.g. `iam:arn:aws:iam::123456789012:role/Admin`, `jwt:alice`.
   * @default - none: only ACL rules grant anything
   */
  readonly adminPrincipals?: readonly string[];
  /**
   * A customer managed KMS key for everything at rest: both tables, the segment bucket (SSE-KMS
   * with a bucket key), the log groups the stack owns and the roll queues. `true` creates one
   * (with yearly rotation). A key from elsewhere must allow `logs.<region>.amazonaws.com` in its
   * key policy (the stack cannot change it; synth warns).
   * @default - AWS owned and managed keys
   */
  readonly encryptionKey?: IKey | boolean;
  /**
   * The Availability Zone ID (e.g. `use1-az4`, not a zone name) of an S3 Express One Zone
   * directory bucket for the record bytes of `storage: "s3-express"` topics: a quarter of S3
   * Standard's PUT price and single-digit-millisecond writes, in that one zone (an outage of the
   * zone makes those topics' hot records unreadable until it recovers; segments stay in the
   * regional bucket). Without it, such topics are refused.
   * @default - no directory bucket
   */
  readonly expressZone?: string;
  /**
   * Stage-wide throttling of the HTTP API.
   * @default { rateLimit: 1000, burstLimit: 2000 }
   */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Version of the public Powertools for AWS Lambda (TypeScript) layer; Powertools is left out of
   * the bundles (and so keeps them small) and loaded from this layer.
   * @default 44
   */
  readonly powertoolsLayerVersion?: number;
  /**
   * CloudWatch alarms on consumer lag: one per entry, on the `ConsumerLag` metric (records not yet
   * committed, summed over the topic's partitions) that the lag reporter publishes every minute.
   * @default - no alarms
   */
  readonly lagAlarms?: readonly LagAlarm[];
  /**
   * Alarm when the oldest batch left in DynamoDB is this far past its topic's hot retention (the
   * roller's lag, metric `RollerLagSeconds`). Hot copies expire a day after their hot retention,
   * and the roller takes a batch whatever its retention 12 h before that, so keep it well below.
   * @default Duration.hours(2)
   */
  readonly rollerLagAlarm?: Duration;
  /** Most roll-worker functions running at once (the queue's event source's maximum concurrency). @default 10 */
  readonly rollConcurrency?: number;
  /**
   * Reserved concurrency of the subscription dispatcher, so that slow targets can never take the
   * account's concurrency from produce and fetch. @default 5
   */
  readonly subscriptionConcurrency?: number;
  /** Subscriptions deployed with the stack (as `new Subscription(stack, id, {...})` each). */
  readonly subscriptions?: readonly SubscriptionDeclaration[];
  /**
   * The event store (routes under /v1/streams): the topic holding every stream's events, created
   * by the first append with `partitions` partitions (a stream lives in one; a topic created
   * beforehand keeps its own count). ACL rules on this topic guard the streams.
   * @default { topic: 'sluice.events', partitions: 8 }
   */
  readonly eventStore?: { readonly topic?: string; readonly partitions?: number };
  /**
   * The web console, deployed with the stack (`infra/console/`): its files in a private bucket
   * behind a CloudFront distribution (origin access control), which also sends `/v1/*` to the API
   * uncached, so that the console and the API share an origin. Output: `ConsoleUrl`.
   *
   * Sign-in depends on `auth`:
   * - IAM (the default): browsers cannot sign SigV4 requests without AWS credentials, so the stack
   *   makes a Cognito user pool (no self sign-up: add users with `aws cognito-idp
   *   admin-create-user`) and a second HTTP API, the console API, with the same routes and
   *   functions behind a JWT authorizer that accepts that pool's tokens (issuer the pool, audience
   *   its public client). The distribution's `/v1/*` goes to the console API; the HTTP API
   *   (`ApiUrl`) keeps IAM, so SigV4 callers (the client, the CLI) change nothing. Console users
   *   are `jwt:<sub>` and `claim:cognito:groups=<group>` principals, which `adminPrincipals` and
   *   ACL rules may then name beside `iam:` ones. Output: `ConsoleUserPoolId`.
   * - JWT (your own provider): the console signs in with it (`console.auth`, required then) and
   *   `/v1/*` goes to the HTTP API itself.
   *
   * The WebSocket doorbells (IAM on `$connect`) are not behind the distribution: the console long-polls.
   * `true` takes the defaults, including the build in `console/dist` (`npm run build:console`).
   * @default false
   */
  readonly console?: boolean | ConsoleProps;
}

/** A JWT authorizer (Cognito, Auth0, …) in front of every route. */
export interface JwtAuth {
  readonly type: 'jwt';
  readonly issuer: string;
  readonly audience: string[];
  /**
   * Claims whose values become extra principals (`jwt:<value>`) besides the subject, e.g. a
   * Cognito group that ACL rules name.
   * @default ['cognito:groups', 'scope']
   */
  readonly principalClaims?: readonly string[];
  /**
   * Whether each route requires its OAuth scope (`sluice/produce`, `sluice/consume` or
   * `sluice/admin`, from ROUTES) in the token: a coarse first gate before the ACLs.
   * @default true
   */
  readonly requireScopes?: boolean;
}

export interface LagAlarm {
  readonly group: string;
  readonly topic: string;
  /** Alarm when the lag exceeds this many records. */
  readonly threshold: number;
  /** @default 5 (minutes) */
  readonly evaluationPeriods?: number;
}

type S3Action = 's3:GetObject' | 's3:PutObject' | 's3:DeleteObject';

/**
 * Rights on batch objects (the record bytes of `storage: "s3"` topics, under batches/), derived
 * from the others: who writes claim checks writes records, so writes batch objects; who reads
 * segments reads records, so reads batch objects; who deletes claim checks (the roller) deletes
 * batch objects too.
 */
function batchObjectActions(objects: { segments: readonly S3Action[]; claims: readonly S3Action[] }): S3Action[] {
  const actions = new Set<S3Action>();
  if (objects.claims.includes('s3:PutObject')) actions.add('s3:PutObject');
  if (objects.segments.includes('s3:GetObject') || objects.claims.includes('s3:GetObject')) actions.add('s3:GetObject');
  if (objects.claims.includes('s3:DeleteObject')) actions.add('s3:DeleteObject');
  return [...actions];
}

/** What each function may do to each table and to segment objects: nothing more. */
/** Segment objects (and their claim lists) live under segments/, claim checks under claims/. */
type FunctionName =
  | HandlerName
  | 'lagReporter'
  | 'roller'
  | 'rollWorker'
  | 'sagaAudit'
  | 'sagaTrigger'
  | 'streamProcessor'
  | 'subscriptionDispatcher'
  | 'websocket';

/**
 * What a consumer-group member needs: read the log (and fill a dead writer's gap in it), change
 * group items in conditional transactions.
 */
const GROUP_MEMBER_ACCESS = {
  log: ['dynamodb:Query', 'dynamodb:PutItem'],
  metadata: [
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:Query',
    'dynamodb:ConditionCheckItem',
    'dynamodb:BatchWriteItem',
  ],
  objects: { segments: ['s3:GetObject'], claims: ['s3:GetObject'] },
} as const;

/**
 * Actions on only the metadata items whose partition keys match `keys` (IAM's
 * `dynamodb:LeadingKeys`, `*` a wildcard). A Query names one partition key, so it is covered too.
 */
interface KeyedAccess {
  readonly actions: TableAccess;
  readonly keys: readonly string[];
}

interface FunctionAccess {
  readonly log: TableAccess;
  /** Actions on any metadata item. */
  readonly metadata: TableAccess;
  /** Actions on some metadata partitions only, each its own statement. */
  readonly metadataByKey?: readonly KeyedAccess[];
  /** Offset look-ups by timestamp: Query on both tables' time indexes. */
  readonly timeIndex?: true;
  readonly objects: { readonly segments: readonly S3Action[]; readonly claims: readonly S3Action[] };
}

/** Partition-key patterns built with core's key builders, so that they follow the schema. */
const KEYS = {
  /** `log#<log>`: a partition's sequencer (and its state item, under the same partition key). */
  partitionLog: metadataKeys.sequencer('*').pk,
  producer: metadataKeys.producer('*', '').pk,
  saga: metadataKeys.sagaPartition('*'),
  /** `exchange` (the registry) and `exchange#<name>` (declaration, bindings, inbound references). */
  exchanges: [metadataKeys.exchangesPartition, metadataKeys.exchangePartition('*')],
  /** `txn#<transactional id>`: a transactional producer's state and its transactions' outcomes. */
  transactions: metadataKeys.transactionalProducer('*').pk,
  /** `ws#<connection>` (a WebSocket connection) and `watch#<topic id>` (a topic's watchers). */
  watchers: [metadataKeys.watchConnection('*').pk, metadataKeys.watchersPartition('*')],
  /** `stream#<id>`: an event stream's head, index entries and snapshots. */
  eventStreams: metadataKeys.eventStream('*'),
  /** `job#<name>`: a stream job's state; `jobs`: the registry `GET /v1/jobs` pages through. */
  jobs: [metadataKeys.jobState('*').pk, metadataKeys.jobRegistryPartition],
} as const;

/**
 * What a `read_committed` reader (and the roller) needs of transactions: their outcomes (a
 * batched read), and aborting one open past its timeout (its state and outcome, in one transaction).
 */
const TXN_READER: KeyedAccess = {
  actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem'],
  keys: [KEYS.transactions],
};

/** Every HTTP function reads ACL rules when authorization is 'acl' (see makeFunction). */
const ACL_READ: KeyedAccess = { actions: ['dynamodb:Query'], keys: [ACL_PARTITION] };

/** Each function's rights: add a function here and nowhere else. */
const ACCESS: Record<FunctionName, FunctionAccess> = {
  // Topic admin writes topic items (a deletion records the topic for the roller, which removes its
  // data); describe reads partition tails.
  topics: {
    log: ['dynamodb:Query'],
    metadata: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query'],
    metadataByKey: [TXN_READER],
    objects: { segments: [], claims: [] },
  },
  // Produce reserves offsets (UpdateItem on the sequencer, which it also starts or moves past the
  // log's end) and writes batches to the log table (PutItem, alone or in a transaction that puts
  // the idempotent producer's state); an idempotent retry of a batch already in S3 reads it back.
  // It reads topics, partition states, producer states and segments, but writes only those two
  // kinds of metadata item (core/adapters/dynamodb/dynamoStore.ts: reserveOffsets,
  // advanceSequencer, putBatch). LeadingKeys cannot tell the sequencer (sk 'next') from the
  // partition state (sk 'state') under the same `log#…` key, so UpdateItem is allowed on both.
  produce: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: ['dynamodb:GetItem', 'dynamodb:Query'],
    metadataByKey: [
      { actions: ['dynamodb:UpdateItem'], keys: [KEYS.partitionLog] },
      { actions: ['dynamodb:PutItem'], keys: [KEYS.producer] },
    ],
    objects: { segments: ['s3:GetObject'], claims: ['s3:PutObject'] },
  },
  // Fetch reads, fills the range of a writer that died before its put (a conditional PutItem), and
  // looks offsets up (by timestamp: in the time indexes).
  fetch: {
    log: ['dynamodb:Query', 'dynamodb:PutItem'],
    metadata: ['dynamodb:GetItem', 'dynamodb:Query'],
    metadataByKey: [TXN_READER],
    timeIndex: true,
    objects: { segments: ['s3:GetObject'], claims: ['s3:GetObject'] },
  },
  // Groups read the log (poll) and change group items, in transactions with condition checks; an
  // offset reset to a timestamp reads the time indexes.
  groups: { ...GROUP_MEMBER_ACCESS, metadataByKey: [TXN_READER], timeIndex: true },
  // Share groups read records (polls, dead letters), change share-group items conditionally (in
  // transactions), and append dead letters as an idempotent producer (sequencer, batch, producer
  // state; a large record as a claim check).
  queues: {
    log: ['dynamodb:Query', 'dynamodb:PutItem'],
    metadata: [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
      'dynamodb:ConditionCheckItem',
    ],
    metadataByKey: [TXN_READER],
    objects: { segments: ['s3:GetObject'], claims: ['s3:GetObject', 's3:PutObject'] },
  },
  // Subscription admin changes subscription items, reads (and may delete) the subscription's
  // group, and dead-letters a skipped key's records as an idempotent producer.
  subscriptions: {
    ...GROUP_MEMBER_ACCESS,
    objects: { segments: ['s3:GetObject'], claims: ['s3:GetObject', 's3:PutObject'] },
  },
  // The dispatcher is a consumer-group member (join, commit), keeps delivery state and leases,
  // and dead-letters as an idempotent producer; it finds a topic's WebSocket watchers (one Query)
  // and removes connections that are gone; invoking targets is granted per target
  // (SluiceStack.addSubscriptionTarget).
  subscriptionDispatcher: {
    ...GROUP_MEMBER_ACCESS,
    metadataByKey: [TXN_READER],
    objects: { segments: ['s3:GetObject'], claims: ['s3:GetObject', 's3:PutObject'] },
  },
  // Lag reads offsets and high watermarks; describing a group may remove expired members.
  lagReporter: {
    log: ['dynamodb:Query'],
    metadata: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query'],
    objects: { segments: [], claims: [] },
  },
  // The roller, on a schedule, only plans: it lists the topics and queues one work unit per partition.
  roller: {
    log: [],
    metadata: ['dynamodb:Query'],
    objects: { segments: [], claims: [] },
  },
  // The roll worker (one per batch of work units) and the admin route that runs a whole pass:
  // write segments, fill dead writers' gaps, push out the TTL of batches it cannot roll, delete hot
  // batches written before TTLs, record segments and drop expired ones, and purge deleted topics.
  rollWorker: {
    log: ['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
    metadata: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query'],
    metadataByKey: [TXN_READER],
    objects: {
      segments: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      claims: ['s3:GetObject', 's3:DeleteObject'],
    },
  },
  tiering: {
    log: ['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
    metadata: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query'],
    metadataByKey: [TXN_READER],
    objects: {
      segments: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      claims: ['s3:GetObject', 's3:DeleteObject'],
    },
  },
  // Transactions reserve offsets and put batches, the producer's state, outcomes, open notes
  // (UpdateItem, DeleteItem) and a group's offsets (condition checks on its meta and the
  // member's session) in transactions; markers are appended as batches; records too large for an
  // item go to S3 as claim checks. Topic describe reads open notes for the last stable offset.
  transactions: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: [
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:Query',
      'dynamodb:ConditionCheckItem',
      'dynamodb:BatchGetItem',
    ],
    objects: { segments: ['s3:GetObject'], claims: ['s3:PutObject'] },
  },
  // Saga routes record executions and read them back; starting one is a Step Functions right per saga.
  // Only saga execution items (partition keys saga#<name>).
  sagas: {
    log: [],
    metadata: [],
    metadataByKey: [
      {
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
        keys: [KEYS.saga],
      },
    ],
    objects: { segments: [], claims: [] },
  },
  // ACL administration reads and changes the rules (each change a transaction with the rule
  // counter, an item of the same partition), and nothing else.
  acls: {
    log: [],
    metadata: [],
    metadataByKey: [
      {
        actions: ['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        keys: [ACL_PARTITION],
      },
    ],
    objects: { segments: [], claims: [] },
  },
  // Exchanges change only exchange items (declarations, bindings: transactions with condition
  // checks; an exchange's deletion batches its bindings away), and publish with produce's rights.
  exchanges: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: ['dynamodb:GetItem', 'dynamodb:Query'],
    metadataByKey: [
      { actions: ['dynamodb:UpdateItem'], keys: [KEYS.partitionLog] },
      { actions: ['dynamodb:PutItem'], keys: [KEYS.producer] },
      {
        actions: [
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:ConditionCheckItem',
          'dynamodb:BatchWriteItem',
        ],
        keys: KEYS.exchanges,
      },
    ],
    objects: { segments: ['s3:GetObject'], claims: ['s3:PutObject'] },
  },
  // The audit task appends lifecycle events (idempotent producer, creating the topic on first use)
  // and advances the execution record.
  sagaAudit: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
    objects: { segments: [], claims: [] },
  },
  // Saga triggers consume topics through consumer groups and record the executions they start.
  sagaTrigger: GROUP_MEMBER_ACCESS,
  // A stream job (StreamProcessor) reads its source read_committed (transaction outcomes, a dead
  // writer's gap filled, segments and claim checks), and commits each step as one transaction:
  // output batches at reserved offsets (the sequencer's UpdateItem; a refused step's offsets given
  // back as gap fillers), large outputs as claim checks, and its state. Its state items (`job#<name>`,
  // and its entry in the `jobs` registry) are granted per job by `grantStreamJob`, not here.
  streamProcessor: {
    log: ['dynamodb:PutItem', 'dynamodb:Query'],
    metadata: ['dynamodb:GetItem', 'dynamodb:Query'],
    metadataByKey: [{ actions: ['dynamodb:UpdateItem'], keys: [KEYS.partitionLog] }, TXN_READER],
    objects: { segments: ['s3:GetObject'], claims: ['s3:GetObject', 's3:PutObject'] },
  },
  // The event store appends as one transaction (a batch, the stream's head and index entry:
  // PutItem and UpdateItem, with the sequencer's UpdateItem before it), creates its topic on first
  // use, and reads batches (each append's by its key: GetItem; a dead writer's gap filled with a
  // PutItem), heads and index entries.
  eventStore: {
    log: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
    metadata: ['dynamodb:GetItem', 'dynamodb:Query'],
    metadataByKey: [
      { actions: ['dynamodb:UpdateItem'], keys: [KEYS.partitionLog, KEYS.eventStreams] },
      { actions: ['dynamodb:PutItem'], keys: [KEYS.eventStreams, metadataKeys.topicsPartition] },
    ],
    objects: { segments: ['s3:GetObject'], claims: ['s3:GetObject', 's3:PutObject'] },
  },
  // Stream jobs, read only: a job's state (GetItem) and the job registry (Query), and for lag the
  // source's topic item and per partition its state (GetItem) and last batch (a Query of one).
  jobs: {
    log: ['dynamodb:Query'],
    metadata: [],
    metadataByKey: [
      { actions: ['dynamodb:GetItem'], keys: [KEYS.jobs[0], metadataKeys.topicsPartition, KEYS.partitionLog] },
      { actions: ['dynamodb:Query'], keys: [KEYS.jobs[1]] },
    ],
    objects: { segments: [], claims: [] },
  },
  // WebSocket routes record connections and their watches, and read topic items (name → id).
  websocket: {
    log: [],
    metadata: [],
    metadataByKey: [
      { actions: ['dynamodb:GetItem'], keys: [metadataKeys.topicsPartition] },
      {
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        keys: KEYS.watchers,
      },
    ],
    objects: { segments: [], claims: [] },
  },
};

/**
 * Sluice in one stack, top to bottom: storage, functions, grants, API, outputs.
 */
export class SluiceStack extends Stack implements SubscriptionHost {
  readonly logTable: Table;
  readonly metadataTable: Table;
  readonly segmentBucket: Bucket;
  /** The S3 Express One Zone directory bucket of `storage: "s3-express"` topics, with `expressZone`. */
  readonly expressBucket: CfnDirectoryBucket | undefined;
  /** The customer managed key of everything at rest, when `encryptionKey` is set. */
  readonly encryptionKey: IKey | undefined;
  readonly functions: Record<HandlerName, NodejsFunction>;
  readonly lagReporter: NodejsFunction;
  readonly roller: NodejsFunction;
  /** Runs the roller's work units from the roll queue. */
  readonly rollWorker: NodejsFunction;
  /** The roller's work units (one per partition), and where units that keep failing go. */
  readonly rollQueue: Queue;
  readonly rollDeadLetters: Queue;
  /** Records saga lifecycle events; every saga's state machine invokes it. */
  readonly sagaAudit: NodejsFunction;
  /** Delivers subscriptions: rung by the log table's stream, and every minute. */
  readonly subscriptionDispatcher: NodejsFunction;
  readonly api: HttpApi;
  /** The WebSocket API consumers wait on instead of long-polling (infra/subscriptions/watchApi.ts). */
  readonly watchApi: WatchApi;
  /** The web console, when the `console` prop is on. */
  readonly console: SluiceConsole | undefined;
  /**
   * The console's JWT twin of `api` (same routes and functions), made when the console is on with
   * IAM auth; with JWT auth the console calls `api` itself.
   */
  readonly consoleApi: HttpApi | undefined;
  /** Layers every Sluice function loads (Powertools), for functions added by constructs. */
  readonly powertoolsLayers: readonly ILayerVersion[];
  private readonly sagas: SagaInfo[] = [];
  private readonly makeFunction: (handler: FunctionName, entry: string) => NodejsFunction;
  private readonly grantAccess: (fn: NodejsFunction, access: FunctionAccess, isHttp: boolean) => void;
  private sagaTriggerFunction: NodejsFunction | undefined;
  /** Functions the dispatcher rings when an append touches their topics (see ringOnAppend). */
  private readonly rungOnAppend: { readonly fn: IFunction; readonly topics: () => readonly string[] }[] = [];
  private readonly declaredSubscriptions: Record<string, unknown>[] = [];

  constructor(scope: Construct, id: string, props: SluiceStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const name = (suffix: string): string | undefined =>
      props.namePrefix === undefined ? undefined : `${props.namePrefix}-${suffix}`;
    const throttle = props.throttle ?? { rateLimit: 1000, burstLimit: 2000 };
    if (throttle.rateLimit <= 0 || throttle.burstLimit <= 0)
      throw new Error('throttle.rateLimit and throttle.burstLimit must be positive');
    if (props.namePrefix !== undefined && !/^[a-z0-9-]{1,40}$/.test(props.namePrefix)) {
      throw new Error(
        'namePrefix must be 1-40 characters of a-z, 0-9 and "-" (it names tables, a bucket and functions)',
      );
    }

    const authType = props.auth?.type ?? 'iam';
    const authorization = props.authorization ?? 'open';
    const consoleProps: ConsoleProps | undefined =
      props.console === true ? {} : props.console === false || props.console === undefined ? undefined : props.console;
    if (consoleProps !== undefined) {
      if (authType === 'iam' && consoleProps.auth !== undefined)
        throw new Error(
          'console.auth is for a JWT auth of your own; with IAM auth the stack makes the console’s Cognito user pool (leave console.auth out)',
        );
      if (props.auth?.type === 'jwt') {
        if (consoleProps.auth === undefined)
          throw new Error(
            'console.auth { authority, clientId, scopes } is required with a JWT auth: the console signs in with your provider',
          );
        const apiScopes = (['produce', 'consume', 'admin'] as const).map(oauthScope);
        if ((props.auth.requireScopes ?? true) && !consoleProps.auth.scopes.some((s) => apiScopes.includes(s)))
          Annotations.of(this).addWarningV2(
            'sluice:console-scopes',
            `console.auth.scopes ask for none of the API’s scopes (${apiScopes.join(', ')}) while its routes require them: every call of the console would be refused.`,
          );
        if (!props.auth.audience.includes(consoleProps.auth.clientId))
          throw new Error(
            `console.auth.clientId ${consoleProps.auth.clientId} must be one of auth.audience, or the API refuses the console’s tokens`,
          );
      }
    }
    const authorizationEnv = authorizationEnvironment(this, {
      authType,
      // The console API authorizes the console's users with JWTs beside the IAM callers.
      ...(authType === 'iam' && consoleProps !== undefined ? { consoleJwt: true } : {}),
      authorization,
      ...(props.adminPrincipals === undefined ? {} : { adminPrincipals: props.adminPrincipals }),
      ...(props.auth?.type === 'jwt' && props.auth.principalClaims !== undefined
        ? { principalClaims: props.auth.principalClaims }
        : {}),
    });

    // ---------------------------------------------------------------- storage
    const key = this.encryptionKeyOf(props.encryptionKey, removalPolicy);
    this.encryptionKey = key;
    const tableDefaults = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      ...(key === undefined
        ? { encryption: TableEncryption.AWS_MANAGED }
        : { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: key }),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy,
    };
    this.logTable = new Table(this, 'LogTable', {
      ...tableDefaults,
      tableName: name('log'),
      partitionKey: { name: LOG_TABLE.partitionKey.name, type: AttributeType.STRING },
      sortKey: { name: LOG_TABLE.sortKey.name, type: AttributeType.NUMBER },
      // The stream is a doorbell: the saga trigger reads records through its consumer group, not
      // from stream images (functions/sagas/trigger.ts), so the stream carries keys only and no
      // record data (and so none of it reaches the trigger's event or logs).
      stream: StreamViewType.KEYS_ONLY,
      // Rolled hot copies expire for free instead of being deleted (see hotCopyExpiry).
      timeToLiveAttribute: LOG_TABLE.timeToLive,
    });
    this.metadataTable = new Table(this, 'MetadataTable', {
      ...tableDefaults,
      tableName: name('metadata'),
      partitionKey: { name: METADATA_TABLE.partitionKey.name, type: AttributeType.STRING },
      sortKey: { name: METADATA_TABLE.sortKey.name, type: AttributeType.STRING },
      // Idempotent producers' states expire a week after their last write (PRODUCER_STATE_TTL_MS).
      timeToLiveAttribute: METADATA_TABLE.timeToLive,
    });
    // Offsets by timestamp (core/log/timeIndex.ts): mark batches in the log table, segments in the metadata table.
    for (const table of [this.logTable, this.metadataTable]) {
      table.addGlobalSecondaryIndex({
        indexName: TIME_INDEX.name,
        partitionKey: { name: TIME_INDEX.partitionKey.name, type: AttributeType.STRING },
        sortKey: { name: TIME_INDEX.sortKey.name, type: AttributeType.STRING },
        projectionType: ProjectionType.KEYS_ONLY,
      });
    }
    this.segmentBucket = new Bucket(this, 'SegmentBucket', {
      bucketName: name('segments'),
      // A bucket key makes S3 call KMS about once per bucket and caller in a while, not per object.
      ...(key === undefined
        ? { encryption: BucketEncryption.S3_MANAGED }
        : { encryption: BucketEncryption.KMS, encryptionKey: key, bucketKeyEnabled: true }),
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy,
      autoDeleteObjects: false,
    });
    Validations.of(this.segmentBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Segment objects are written only by Sluice roles; CloudTrail data events are the audit trail if a user wants one, and access logs would need a second bucket per deployment.',
    });
    this.expressBucket = this.directoryBucket(props.expressZone, props.namePrefix, key, removalPolicy);
    const expressEnv: Record<string, string> =
      this.expressBucket === undefined ? {} : { SLUICE_EXPRESS_BUCKET: this.expressBucket.ref };

    // ---------------------------------------------------------------- functions and grants
    const powertools = LayerVersion.fromLayerVersionArn(
      this,
      'PowertoolsLayer',
      `arn:${this.partition}:lambda:${this.region}:094274105915:layer:AWSLambdaPowertoolsTypeScriptV2:${props.powertoolsLayerVersion ?? 44}`,
    );
    this.powertoolsLayers = [powertools];
    // The WebSocket routes authorize callers as the HTTP routes do (ACLs, admin principals).
    const httpHandlers = new Set<FunctionName>([...(Object.keys(HANDLER_ENTRY) as HandlerName[]), 'websocket']);
    const makeFunction = (handler: FunctionName, entry: string): NodejsFunction => {
      const isHttp = httpHandlers.has(handler);
      const fn = sluiceFunction(this, pascal(handler), {
        entry,
        ...(name(handler) === undefined ? {} : { functionName: name(handler) }),
        description: `Sluice ${handler} handler`,
        timeout:
          handler === 'rollWorker'
            ? Duration.minutes(5)
            : handler === 'roller' || handler === 'sagaTrigger' || handler === 'subscriptionDispatcher'
              ? Duration.minutes(1)
              : Duration.seconds(29), // HTTP APIs stop waiting at 30 s
        layers: [powertools],
        ...(props.runtime === undefined ? {} : { runtime: props.runtime }),
        ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
        ...(key === undefined ? {} : { encryptionKey: key }),
        environment: {
          [TABLE_NAME_ENV.log]: this.logTable.tableName,
          [TABLE_NAME_ENV.metadata]: this.metadataTable.tableName,
          SLUICE_SEGMENT_BUCKET: this.segmentBucket.bucketName,
          ...expressEnv,
          ...(isHttp ? authorizationEnv : {}),
        },
      });
      grantAccess(fn, ACCESS[handler], isHttp);
      return fn;
    };
    /** Exactly `access` on the tables, the segment objects and the key, for one function. */
    const grantAccess = (fn: NodejsFunction, access: FunctionAccess, isHttp: boolean): void => {
      const role = fn.role as Role;
      bindTable({ table: this.logTable, grantee: fn, actions: access.log });
      if (access.timeIndex === true) {
        for (const table of [this.logTable, this.metadataTable])
          bindIndex({ table, indexName: TIME_INDEX.name, grantee: fn });
      }
      bindTable({ table: this.metadataTable, grantee: fn, actions: access.metadata });
      const keyed = [...(access.metadataByKey ?? []), ...(isHttp && authorization === 'acl' ? [ACL_READ] : [])];
      for (const { actions, keys } of keyed) {
        role.addToPolicy(
          new PolicyStatement({
            actions: [...actions],
            resources: [this.metadataTable.tableArn],
            conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...keys] } },
          }),
        );
      }
      const bucketLogicalId = this.getLogicalId(this.segmentBucket.node.defaultChild as CfnBucket);
      const objectRights = { ...access.objects, batches: batchObjectActions(access.objects) };
      for (const prefix of ['segments', 'claims', 'batches'] as const) {
        const actions = objectRights[prefix];
        if (actions.length === 0) continue;
        role.addToPolicy(
          new PolicyStatement({ actions: [...actions], resources: [this.segmentBucket.arnForObjects(`${prefix}/*`)] }),
        );
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${prefix}/*]`,
          reason: `Objects under ${prefix}/ have generated keys; access is limited to that prefix and to the object actions this function needs.`,
        });
      }
      if (this.expressBucket !== undefined && objectRights.batches.length > 0) {
        // A directory bucket authorizes by session, per bucket (no key prefixes, and the SDK asks
        // for read-write sessions): who has any right on batch objects may open one. The bucket
        // holds nothing but batch objects.
        role.addToPolicy(
          new PolicyStatement({ actions: ['s3express:CreateSession'], resources: [this.expressBucket.attrArn] }),
        );
      }
      const objectActions = new Set([...access.objects.segments, ...access.objects.claims]);
      if (objectActions.has('s3:GetObject')) {
        // Without ListBucket, S3 answers a missing key with 403 instead of NoSuchKey, which readers
        // need to tell a segment removed by retention or compaction from a real fault.
        role.addToPolicy(
          new PolicyStatement({
            actions: ['s3:ListBucket'],
            resources: [this.segmentBucket.bucketArn],
            conditions: { StringLike: { 's3:prefix': ['segments/*', 'claims/*', 'batches/*'] } },
          }),
        );
      }
      if (key !== undefined) {
        // bindTable's grants are its own, so the key's come here, and only what each use needs:
        // DynamoDB decrypts the table key for the caller (any action, streams too), S3 generates
        // an object's data key on a (single-part) put and decrypts it on a get.
        const kmsActions = new Set<string>();
        const usesTables = [access.log, access.metadata, ...keyed.map((k) => k.actions)].some((a) => a.length > 0);
        if (usesTables || objectActions.has('s3:GetObject')) kmsActions.add('kms:Decrypt');
        if (objectActions.has('s3:PutObject')) kmsActions.add('kms:GenerateDataKey');
        if (this.expressBucket !== undefined && objectRights.batches.length > 0) {
          // A directory bucket’s session (CreateSession) carries the key’s use for its objects.
          kmsActions.add('kms:Decrypt');
          kmsActions.add('kms:GenerateDataKey');
        }
        this.grantKey(fn, kmsActions);
      }
    };
    this.makeFunction = makeFunction;
    this.grantAccess = grantAccess;
    const httpFunction = (handler: HandlerName) => makeFunction(handler, HANDLER_ENTRY[handler]);
    this.functions = {
      topics: httpFunction('topics'),
      produce: httpFunction('produce'),
      fetch: httpFunction('fetch'),
      groups: httpFunction('groups'),
      tiering: httpFunction('tiering'),
      sagas: httpFunction('sagas'),
      acls: httpFunction('acls'),
      queues: httpFunction('queues'),
      exchanges: httpFunction('exchanges'),
      subscriptions: httpFunction('subscriptions'),
      transactions: httpFunction('transactions'),
      eventStore: httpFunction('eventStore'),
      jobs: httpFunction('jobs'),
    };
    const eventStore = props.eventStore ?? {};
    if (eventStore.topic !== undefined) validateTopicName(eventStore.topic);
    if (
      eventStore.partitions !== undefined &&
      !(Number.isSafeInteger(eventStore.partitions) && eventStore.partitions >= 1 && eventStore.partitions <= 1024)
    )
      throw new Error('eventStore.partitions must be an integer from 1 to 1024');
    if (eventStore.topic !== undefined)
      this.functions.eventStore.addEnvironment('SLUICE_EVENT_STORE_TOPIC', eventStore.topic);
    if (eventStore.partitions !== undefined)
      this.functions.eventStore.addEnvironment('SLUICE_EVENT_STORE_PARTITIONS', String(eventStore.partitions));
    this.subscriptionDispatcher = this.dispatcherFunction(props.subscriptionConcurrency ?? 5);
    for (const declared of props.subscriptions ?? [])
      new Subscription(this, `Subscription-${declared.name}`, { ...declared, stack: this });
    this.lagReporter = makeFunction('lagReporter', join('functions', 'groups', 'lagReporter.ts'));
    this.roller = makeFunction('roller', join('functions', 'tiering', 'roller.ts'));
    this.rollWorker = makeFunction('rollWorker', join('functions', 'tiering', 'rollWorker.ts'));
    // The roll queue: one message per partition per pass, so one slow or failing partition holds
    // up nothing else; a unit that keeps failing goes to the dead-letter queue (alarmed below).
    const queueEncryption =
      key === undefined
        ? { encryption: QueueEncryption.SQS_MANAGED }
        : { encryption: QueueEncryption.KMS, encryptionMasterKey: key };
    this.rollDeadLetters = new Queue(this, 'RollDeadLetters', {
      ...queueEncryption,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.rollDeadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is the dead-letter queue of the roll queue; nothing consumes it but an operator.',
    });
    this.rollQueue = new Queue(this, 'RollQueue', {
      ...queueEncryption,
      enforceSSL: true,
      visibilityTimeout: Duration.minutes(30), // 6 × the worker's timeout, as AWS advises for SQS event sources
      retentionPeriod: Duration.hours(1), // a unit older than this has been planned again since
      deadLetterQueue: { queue: this.rollDeadLetters, maxReceiveCount: 3 },
    });
    // What grantSendMessages grants, but of the key only what a producer needs (SQS generates a
    // data key and, to reuse it, decrypts it): not Encrypt nor ReEncrypt. The worker's event source
    // grants itself kms:Decrypt, all a consumer needs.
    this.rollQueue.grant(this.roller, 'sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl');
    if (key !== undefined) this.grantKey(this.roller, ['kms:GenerateDataKey', 'kms:Decrypt']);
    this.roller.addEnvironment('SLUICE_ROLL_QUEUE_URL', this.rollQueue.queueUrl);
    this.rollWorker.addEventSource(
      new SqsEventSource(this.rollQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: props.rollConcurrency ?? 10,
      }),
    );
    this.sagaAudit = makeFunction('sagaAudit', join('functions', 'sagas', 'audit.ts'));
    // Which topic each saga's events go to (plain names: no reference back to the state machines).
    this.sagaAudit.addEnvironment(
      'SLUICE_SAGA_AUDIT_TOPICS',
      Lazy.string({ produce: () => JSON.stringify(Object.fromEntries(this.sagas.map((s) => [s.name, s.auditTopic]))) }),
    );
    // The deployed sagas, filled in by each Saga construct (see addSaga).
    this.functions.sagas.addEnvironment('SLUICE_SAGAS', this.sagaCatalog());

    // ---------------------------------------------------------------- API
    const authorizer: IHttpRouteAuthorizer =
      props.auth?.type === 'jwt'
        ? new HttpJwtAuthorizer('JwtAuthorizer', props.auth.issuer, { jwtAudience: props.auth.audience })
        : new HttpIamAuthorizer();
    // JWT callers need the route's scope (a coarse first gate; ACLs decide per resource). IAM
    // routes take no scopes: API Gateway rejects authorization scopes on AWS_IAM routes.
    const requireScopes = props.auth?.type === 'jwt' && (props.auth.requireScopes ?? true);
    this.api = new HttpApi(this, 'Api', { apiName: name('api'), defaultAuthorizer: authorizer });
    const integrations = Object.fromEntries(
      (Object.keys(this.functions) as HandlerName[]).map((h) => [
        h,
        new HttpLambdaIntegration(`${pascal(h)}Integration`, this.functions[h]),
      ]),
    ) as Record<HandlerName, HttpLambdaIntegration>;
    addSluiceRoutes(this.api, (h) => integrations[h], { requireScopes });
    this.configureStage(this.api, {
      logGroupId: 'ApiAccessLogs',
      authType,
      throttle,
      ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
    });

    // ---------------------------------------------------------------- WebSocket doorbells
    this.watchApi = new WatchApi(this, 'Watch', {
      websocket: makeFunction('websocket', join('functions', 'subscriptions', 'websocket.ts')),
      dispatcher: this.subscriptionDispatcher,
      ...(name('watch') === undefined ? {} : { apiName: name('watch') }),
    });

    // ---------------------------------------------------------------- console
    this.consoleApi = undefined;
    this.console = undefined;
    if (consoleProps !== undefined) {
      // With IAM auth the console calls a JWT twin of the API (see the `console` prop); the
      // authorizer comes after the console, which makes the user pool and its client.
      const consoleApi =
        authType === 'iam'
          ? new HttpApi(this, 'ConsoleApi', {
              ...(name('console-api') === undefined ? {} : { apiName: name('console-api') }),
              description: 'Sluice HTTP API for the console: the same routes and functions, JWT authorization',
            })
          : undefined;
      this.console = new SluiceConsole(this, 'Console', {
        ...consoleProps,
        api: consoleApi ?? this.api,
        ...(key === undefined ? {} : { encryptionKey: key }),
        removalPolicy,
        ...(props.namePrefix === undefined ? {} : { namePrefix: props.namePrefix }),
        ...(props.auth?.type === 'jwt' ? { issuer: props.auth.issuer } : {}),
      });
      const signIn = this.console.signIn;
      if (consoleApi !== undefined && signIn !== undefined) {
        const consoleAuthorizer = new HttpJwtAuthorizer('ConsoleJwtAuthorizer', signIn.issuer, {
          jwtAudience: [signIn.client.userPoolClientId],
        });
        // One invoke permission per function for this API (not one per route, as on the IAM API):
        // the stack stays well under CloudFormation's 500 resources.
        const consoleIntegrations = Object.fromEntries(
          (Object.keys(this.functions) as HandlerName[]).map((h) => [
            h,
            new HttpLambdaIntegration(`Console${pascal(h)}Integration`, this.functions[h], {
              scopePermissionToRoute: false,
            }),
          ]),
        ) as Record<HandlerName, HttpLambdaIntegration>;
        addSluiceRoutes(consoleApi, (h) => consoleIntegrations[h], {
          authorizer: consoleAuthorizer,
          requireScopes: false,
        });
        this.configureStage(consoleApi, {
          logGroupId: 'ConsoleApiAccessLogs',
          authType: 'jwt',
          throttle,
          ...(props.logRetention === undefined ? {} : { logRetention: props.logRetention }),
        });
        new CfnOutput(this, 'ConsoleUserPoolId', {
          value: signIn.userPool.userPoolId,
          description: 'The console’s Cognito user pool: add users with aws cognito-idp admin-create-user',
        });
        new CfnOutput(this, 'ConsoleApiUrl', {
          value: consoleApi.apiEndpoint,
          description: 'The console’s JWT API (the console reaches it through the distribution, under /v1/)',
        });
      }
      this.consoleApi = consoleApi;
      new CfnOutput(this, 'ConsoleUrl', { value: this.console.url, description: 'The Sluice web console' });
    }

    // ---------------------------------------------------------------- lag metrics and alarms
    new Rule(this, 'LagSchedule', {
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.lagReporter)],
    });
    new Rule(this, 'RollerSchedule', {
      schedule: Schedule.rate(Duration.minutes(5)),
      targets: [new LambdaFunction(this.roller)],
    });
    new Alarm(this, 'RollerLagAlarm', {
      alarmDescription:
        'The roller is behind: a batch is still in DynamoDB long after its hot retention (its TTL removes it a day after)',
      metric: new Metric({
        namespace: 'Sluice',
        metricName: 'RollerLagSeconds',
        dimensionsMap: { service: 'sluice' },
        statistic: 'Maximum',
        period: Duration.minutes(5),
      }),
      threshold: (props.rollerLagAlarm ?? Duration.hours(2)).toSeconds(),
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    new Alarm(this, 'RollDeadLettersAlarm', {
      alarmDescription: 'A roll work unit failed three times and is in the dead-letter queue',
      metric: this.rollDeadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of props.lagAlarms ?? []) {
      if (!/^[A-Za-z0-9._-]{1,249}$/.test(alarm.group) || !/^[A-Za-z0-9._-]{1,249}$/.test(alarm.topic))
        throw new Error(`lagAlarms: bad group or topic name ${alarm.group}/${alarm.topic}`);
      if (!(alarm.threshold >= 0)) throw new Error('lagAlarms: threshold must be a non-negative number of records');
      new Alarm(this, `LagAlarm-${alarm.group}-${alarm.topic}`, {
        alarmDescription: `Consumer group ${alarm.group} is more than ${alarm.threshold} records behind on ${alarm.topic}`,
        metric: new Metric({
          namespace: 'Sluice',
          metricName: 'ConsumerLag',
          dimensionsMap: { service: 'sluice', Group: alarm.group, Topic: alarm.topic },
          statistic: 'Maximum',
          period: Duration.minutes(1),
        }),
        threshold: alarm.threshold,
        evaluationPeriods: alarm.evaluationPeriods ?? 5,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    }

    // ---------------------------------------------------------------- outputs
    new CfnOutput(this, 'ApiUrl', { value: this.api.apiEndpoint, description: 'Base URL of the Sluice HTTP API' });
    new CfnOutput(this, 'LogTableName', { value: this.logTable.tableName });
    new CfnOutput(this, 'MetadataTableName', { value: this.metadataTable.tableName });
    new CfnOutput(this, 'SegmentBucketName', { value: this.segmentBucket.bucketName });
    if (this.expressBucket !== undefined) new CfnOutput(this, 'ExpressBucketName', { value: this.expressBucket.ref });
  }

  /**
   * Throttling and JSON access logs (naming the caller: IAM user ARN and account, or the JWT
   * subject) on an HTTP API's default stage.
   */
  private configureStage(
    api: HttpApi,
    options: {
      readonly logGroupId: string;
      readonly authType: 'iam' | 'jwt';
      readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
      readonly logRetention?: RetentionDays;
    },
  ): void {
    const key = this.encryptionKey;
    const accessLogs = new LogGroup(this, options.logGroupId, {
      retention: options.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
      ...(key === undefined ? {} : { encryptionKey: key }),
    });
    const stage = api.defaultStage!.node.defaultChild as CfnStage;
    stage.defaultRouteSettings = {
      throttlingRateLimit: options.throttle.rateLimit,
      throttlingBurstLimit: options.throttle.burstLimit,
    };
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        routeKey: '$context.routeKey',
        status: '$context.status',
        latencyMs: '$context.responseLatency',
        error: '$context.error.message',
        // Who called: HTTP APIs fill $context.identity.* on IAM routes and
        // $context.authorizer.claims.<claim> on JWT routes (the other kind's would log "-").
        // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html
        ...(options.authType === 'jwt'
          ? { sub: '$context.authorizer.claims.sub' }
          : {
              userArn: '$context.identity.userArn',
              accountId: '$context.identity.accountId',
              caller: '$context.identity.caller',
            }),
        authorizerError: '$context.authorizer.error',
      }),
    };
  }

  /**
   * Makes a saga startable through the API: the sagas function learns its state machine and may
   * start executions of it (and of nothing else). Called by the `Saga` construct.
   */
  addSaga(saga: Omit<SagaInfo, 'stateMachineArn'> & { readonly stateMachine: IStateMachine }): void {
    if (this.sagas.some((s) => s.name === saga.name))
      throw new Error(`A saga named ${saga.name} is already in this stack`);
    // SLUICE_SAGAS travels in Lambda environment variables, which are limited to 4 KB in all.
    const estimate = [...this.sagas, { ...saga, stateMachineArn: 'x'.repeat(120) }].reduce(
      (n, s) => n + JSON.stringify({ ...s, stateMachine: undefined }).length + 140,
      0,
    );
    if (estimate > 3000)
      throw new Error(
        `Too many sagas for one stack: their catalog (about ${estimate} bytes) must fit Lambda's 4 KB of environment variables; split them across stacks`,
      );
    const { stateMachine, ...info } = saga;
    this.sagas.push({ ...info, stateMachineArn: stateMachine.stateMachineArn });
    stateMachine.grantStartExecution(this.functions.sagas);
    if (saga.trigger !== undefined) stateMachine.grantStartExecution(this.sagaTrigger());
  }

  /**
   * The customer managed key, created (`true`) or given, with a key policy statement that lets
   * CloudWatch Logs use it for this account's log groups in this region. A key defined elsewhere
   * keeps its policy: synth warns that the statement must be added there.
   * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
   */
  /** The directory bucket of `s3-express` topics in `zone` (an AZ ID), or none without a zone. */
  private directoryBucket(
    zone: string | undefined,
    namePrefix: string | undefined,
    key: IKey | undefined,
    removalPolicy: RemovalPolicy,
  ): CfnDirectoryBucket | undefined {
    if (zone === undefined) return undefined;
    if (!/^[a-z]{2,6}\d-(az\d{1,2}|[a-z]{2,6}\d-[a-z]{2}\d)$/.test(zone)) {
      throw new Error(
        `expressZone must be an Availability Zone ID such as use1-az4 (aws ec2 describe-availability-zones shows ZoneId), not ${zone}`,
      );
    }
    const bucket = new CfnDirectoryBucket(this, 'ExpressBucket', {
      dataRedundancy: 'SingleAvailabilityZone',
      locationName: zone,
      ...(namePrefix === undefined ? {} : { bucketName: `${namePrefix}-batches--${zone}--x-s3` }),
      bucketEncryption: {
        serverSideEncryptionConfiguration: [
          key === undefined
            ? { serverSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }
            : {
                bucketKeyEnabled: true, // a directory bucket’s SSE-KMS always uses a bucket key
                serverSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: key.keyArn },
              },
        ],
      },
      // No expiration: a batch object lives as long as its batches are hot (the topic’s hot
      // retention, which has no upper bound); the roller’s hourly sweep deletes it after that.
      lifecycleConfiguration: {
        rules: [
          {
            id: 'abort-incomplete-uploads',
            status: 'Enabled',
            abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
          },
        ],
      },
    });
    bucket.applyRemovalPolicy(removalPolicy);
    return bucket;
  }

  private encryptionKeyOf(option: IKey | boolean | undefined, removalPolicy: RemovalPolicy): IKey | undefined {
    if (option === undefined || option === false) return undefined;
    const key =
      option === true
        ? new Key(this, 'EncryptionKey', {
            description: 'Sluice: tables, segment objects, logs and queues at rest',
            enableKeyRotation: true,
            removalPolicy, // the data it protects is unreadable without it
          })
        : option;
    const logsArn = `arn:${this.partition}:logs:${this.region}:${this.account}:log-group:*`;
    const { statementAdded } = key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal(`logs.${this.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': logsArn } },
      }),
    );
    if (!statementAdded) {
      Annotations.of(this).addWarningV2(
        'sluice:encryption-key-policy',
        `encryptionKey is not defined in this app, so its key policy cannot be changed here: allow the service principal logs.${this.region}.amazonaws.com kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey* and kms:Describe* on it (condition kms:EncryptionContext:aws:logs:arn like ${logsArn}), or the log groups cannot be created.`,
      );
    }
    return key;
  }

  /** Exactly these actions on the stack's key, for one function (no-op without a key). */
  private grantKey(fn: NodejsFunction, actions: Iterable<string>): void {
    const list = [...new Set(actions)].sort();
    if (this.encryptionKey === undefined || list.length === 0) return;
    fn.addToRolePolicy(new PolicyStatement({ actions: list, resources: [this.encryptionKey.keyArn] }));
  }

  private sagaCatalog(): string {
    return Lazy.string({ produce: () => this.toJsonString(this.sagas) });
  }

  /**
   * Adds a subscription to the catalog the dispatcher creates on its first run (SLUICE_SUBSCRIPTIONS):
   * what a `Subscription` construct calls.
   */
  declareSubscription(definition: Record<string, unknown>): void {
    const name = definition.name as string;
    if (this.declaredSubscriptions.some((d) => d.name === name))
      throw new Error(`Subscription ${name} is declared twice in this stack`);
    this.declaredSubscriptions.push(definition);
  }

  /**
   * Lets one of your functions call `sluice.transact` (core/transactions/outbox.ts): append
   * records atomically with its own DynamoDB writes (the outbox without a relay). It gets the
   * transactions function's rights on Sluice's tables (no more; rights on its own tables are
   * yours to grant) and their names in its environment (SLUICE_LOG_TABLE, SLUICE_METADATA_TABLE).
   * Records too large for an item need claim checks in S3; this grants none, so they are refused.
   */
  grantTransact(fn: LambdaFn): void {
    const access = ACCESS.transactions;
    fn.addEnvironment(TABLE_NAME_ENV.log, this.logTable.tableName);
    fn.addEnvironment(TABLE_NAME_ENV.metadata, this.metadataTable.tableName);
    bindTable({ table: this.logTable, grantee: fn, actions: access.log });
    bindTable({ table: this.metadataTable, grantee: fn, actions: access.metadata });
    if (this.encryptionKey !== undefined)
      fn.addToRolePolicy(new PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.encryptionKey.keyArn] }));
  }

  /**
   * Lets subscriptions deliver to `target` (a Lambda function): the dispatcher may invoke it, and
   * nothing else. A subscription naming a function not granted fails its deliveries (AccessDenied)
   * and dead-letters as any failing target.
   */
  addSubscriptionTarget(target: IFunction): void {
    this.grantDispatcherInvoke(target);
  }

  /** The dispatcher may invoke `target` (and its versions and aliases), nothing else. */
  private grantDispatcherInvoke(target: IFunction): void {
    target.grantInvoke(this.subscriptionDispatcher);
    // grantInvoke covers the function's versions and aliases (`<arn>:*`): that function's only.
    const child = target.node.defaultChild;
    if (child instanceof CfnResource)
      Validations.of(this.subscriptionDispatcher.role!).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(target).getLogicalId(child)}.Arn>:*]`,
        reason:
          'Invoking a subscription target by version or alias: the versions and aliases of that one function only.',
      });
  }

  /**
   * Has the dispatcher (the log table's stream's one consumer) invoke `fn` asynchronously when an
   * append touches one of `topics`: the doorbell saga triggers and stream jobs share. The function
   * reads what is new itself, so it should also run on a schedule, in case a ring is lost.
   * `topics` may be a function, read at synth (the saga trigger's list grows with each saga).
   */
  ringOnAppend(fn: IFunction, topics: readonly string[] | (() => readonly string[])): void {
    if (this.rungOnAppend.some((r) => r.fn === fn)) throw new Error(`${fn.node.path} is already rung on appends`);
    const list = typeof topics === 'function' ? topics : () => topics;
    for (const t of list()) validateTopicName(t);
    // The list travels in the dispatcher's environment, which Lambda limits to 4 KB in all (with
    // SLUICE_SUBSCRIPTIONS): a function name is at most 64 characters, plus the JSON around it.
    const estimate = [...this.rungOnAppend, { topics: list }].reduce(
      (n, r) => n + 90 + JSON.stringify(r.topics()).length,
      0,
    );
    if (estimate > 1500)
      throw new Error(
        `Too many functions rung on appends for one stack (about ${estimate} bytes of the dispatcher's 4 KB environment); split the jobs and sagas across stacks`,
      );
    this.rungOnAppend.push({ fn, topics: list });
    this.grantDispatcherInvoke(fn);
  }

  /**
   * Lets `fn` run the stream job `job` (functions/streams/processor.ts): read any topic
   * `read_committed`, commit steps (outputs and state in one transaction), and change that job's
   * state items (`job#<job>`, and its entry in the `jobs` registry) and no other job's. Puts the
   * tables' and bucket's names and the job's name in its environment. What the `StreamProcessor`
   * construct calls.
   */
  grantStreamJob(fn: NodejsFunction, job: string): void {
    if (typeof job !== 'string' || !/^[A-Za-z0-9._-]{1,200}$/.test(job))
      throw new Error(`stream job name ${job} must be 1-200 characters of A-Z, a-z, 0-9, ".", "_" and "-"`);
    fn.addEnvironment(TABLE_NAME_ENV.log, this.logTable.tableName);
    fn.addEnvironment(TABLE_NAME_ENV.metadata, this.metadataTable.tableName);
    fn.addEnvironment('SLUICE_SEGMENT_BUCKET', this.segmentBucket.bucketName);
    if (this.expressBucket !== undefined) fn.addEnvironment('SLUICE_EXPRESS_BUCKET', this.expressBucket.ref);
    fn.addEnvironment(STREAM_JOB_ENV, job);
    const access = ACCESS.streamProcessor;
    this.grantAccess(
      fn,
      {
        ...access,
        metadataByKey: [
          ...(access.metadataByKey ?? []),
          {
            actions: ['dynamodb:PutItem'],
            keys: [metadataKeys.jobState(job).pk, metadataKeys.jobRegistryPartition],
          },
          // A step deletes the state's chunks that emptied (panes whose windows all passed).
          { actions: ['dynamodb:DeleteItem'], keys: [metadataKeys.jobState(job).pk] },
        ],
      },
      false,
    );
  }

  /**
   * Lets subscriptions sign webhook deliveries with `secret` (read only by the dispatcher).
   */
  addSubscriptionSecret(secret: ISecret): void {
    secret.grantRead(this.subscriptionDispatcher);
  }

  /**
   * The subscription dispatcher: the log table's stream rings it on appends (INSERTs only; it runs
   * only the subscriptions of the topics touched), a one-minute schedule runs every subscription,
   * and its reserved concurrency caps what slow targets can take.
   */
  private dispatcherFunction(concurrency: number): NodejsFunction {
    const fn = this.makeFunction('subscriptionDispatcher', join('functions', 'subscriptions', 'dispatcher.ts'));
    // The subscriptions deployed with the stack (Subscription constructs), created on its first run.
    fn.addEnvironment(
      'SLUICE_SUBSCRIPTIONS',
      Lazy.string({ produce: () => this.toJsonString(this.declaredSubscriptions) }),
    );
    // Saga triggers and stream jobs rung on appends (ringOnAppend).
    fn.addEnvironment(
      RING_ON_APPEND_ENV,
      Lazy.string({
        produce: () =>
          this.toJsonString(this.rungOnAppend.map((r) => ({ function: r.fn.functionName, topics: r.topics() }))),
      }),
    );
    (fn.node.defaultChild as CfnFunction).reservedConcurrentExecutions = concurrency;
    fn.addEventSource(
      new DynamoEventSource(this.logTable, {
        startingPosition: StartingPosition.LATEST,
        batchSize: 100,
        maxBatchingWindow: Duration.millis(0), // a doorbell: as soon as possible
        retryAttempts: 2, // a lost ring is not lost records: the schedule and clients' safety polls follow
        filters: [FilterCriteria.filter({ eventName: FilterRule.isEqual('INSERT') })],
      }),
    );
    Validations.of(fn.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray (PutTraceSegments, PutTelemetryRecords) and dynamodb:ListStreams, which the stream event source needs, support no resource-level permissions.',
    });
    new Rule(this, 'SubscriptionSchedule', {
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(fn)],
    });
    new Alarm(this, 'QuarantinedKeysAlarm', {
      alarmDescription: 'A subscription has quarantined keys: their records wait for a release or a skip',
      metric: new Metric({
        namespace: 'Sluice',
        metricName: 'SubscriptionQuarantinedKeys',
        dimensionsMap: { service: 'sluice' },
        statistic: 'Maximum',
        period: Duration.minutes(5),
      }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    return fn;
  }

  /**
   * The function that starts executions from topic records, made when the first saga with a
   * trigger is added. The log table's stream rings it when records are appended (INSERTs only);
   * a one-minute schedule covers a missed ring.
   */
  private sagaTrigger(): NodejsFunction {
    if (this.sagaTriggerFunction !== undefined) return this.sagaTriggerFunction;
    const fn = this.makeFunction('sagaTrigger', join('functions', 'sagas', 'trigger.ts'));
    fn.addEnvironment('SLUICE_SAGAS', this.sagaCatalog());
    // The log stream's one consumer, the dispatcher, rings it when an append touches a trigger topic.
    this.ringOnAppend(fn, () => [
      ...new Set(this.sagas.flatMap((s) => (s.trigger === undefined ? [] : [s.trigger.topic]))),
    ]);
    Validations.of(fn.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray (PutTraceSegments, PutTelemetryRecords) supports no resource-level permissions.',
    });
    new Rule(this, 'SagaTriggerSchedule', {
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(fn)],
    });
    this.sagaTriggerFunction = fn;
    return fn;
  }
}

/**
 * Every route of the route table (functions/http/routes.ts) on `api`, each to its handler's
 * integration; JWT routes may require the route's OAuth scope.
 */
function addSluiceRoutes(
  api: HttpApi,
  integrationOf: (handler: HandlerName) => HttpLambdaIntegration,
  options: { readonly authorizer?: IHttpRouteAuthorizer; readonly requireScopes: boolean },
): void {
  for (const route of ROUTES) {
    api.addRoutes({
      path: route.path,
      methods: [HttpMethod[route.method]],
      integration: integrationOf(route.handler),
      ...(options.authorizer === undefined ? {} : { authorizer: options.authorizer }),
      ...(options.requireScopes ? { authorizationScopes: [oauthScope(route.scope)] } : {}),
    });
  }
}

function pascal(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
