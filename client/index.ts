/** The Sluice TypeScript client: admin, producer and partition consumer over the HTTP API. */
export {
  Admin,
  type AclRule,
  type QueueDeclaration,
  type QueueDescription,
  type ShareGroupDescription,
  type ShareGroupSettings,
  type StoredAclRule,
  type TopicConfig,
  type TopicDescription,
} from './admin.ts';
export {
  SUBSCRIPTION_HEADERS,
  signPayload,
  verifySignature,
  type Backoff,
  type FilterMatcher,
  type FilterPattern,
  type QuarantinedKeyView,
  type RetryState,
  type Subscription,
  type SubscriptionChanges,
  type SubscriptionDescription,
  type SubscriptionEvent,
  type SubscriptionEventRecord,
  type SubscriptionPartition,
  type SubscriptionResponse,
  type SubscriptionSpec,
  type SubscriptionTarget,
} from './subscriptions.ts';
export { PartitionConsumer, MemoryOffsetStore, type ConsumerConfig, type OffsetStore } from './consumer.ts';
export { FileOffsetStore } from './fileOffsetStore.ts';
export { Connection, SluiceApiError, isSluiceApiError, type Auth, type ConnectionOptions } from './http.ts';
export { Producer, type DeliveryReport, type ProducerConfig } from './producer.ts';
export {
  Transaction,
  TransactionalConsumer,
  TransactionalProducer,
  type TransactionBatch,
  type TransactionMessage,
  type TransactionOffsets,
  type TransactionReport,
  type TransactionalConsumerConfig,
  type TransactionalProducerConfig,
} from './transactions.ts';
export {
  PermanentError,
  ShareConsumer,
  type AckOutcome,
  type ShareConsumerConfig,
  type ShareReceivedRecord,
} from './shareConsumer.ts';
export {
  RPC_HEADERS,
  RpcClient,
  RpcError,
  RpcServer,
  isRpcError,
  type RpcClientConfig,
  type RpcErrorCode,
  type RpcHandler,
  type RpcServerConfig,
  type RpcTarget,
} from './rpc.ts';
export {
  Publisher,
  type Binding,
  type BindingDestination,
  type Exchange,
  type ExchangeType,
  type PublishMessage,
  type PublishResult,
  type StoredBinding,
} from './publisher.ts';
export {
  GroupConsumer,
  type EachBatchPayload,
  type GroupConsumerConfig,
  type RunOptions,
  type TopicPartition,
} from './groupConsumer.ts';
export type { Message, ReceivedRecord, Value } from './records.ts';
export {
  Choreography,
  EVENT_HEADERS,
  publishEvent,
  type ChoreographyConfig,
  type ChoreographyEvent,
  type EmitOptions,
  type Reaction,
  type ReactionContext,
} from './choreography.ts';
export {
  SagaClient,
  FINAL_SAGA_STATUSES,
  type SagaEvent,
  type SagaExecution,
  type SagaExecutionSummary,
  type SagaStatus,
  type SagaSummary,
} from './sagas.ts';
export {
  EventStreams,
  type AppendResult,
  type EventInput,
  type ExpectedVersion,
  type ReadStreamResult,
  type RecordedEvent,
  type Reducer,
  type StreamDescription,
} from './eventStreams.ts';
export { Jobs, type JobDescription, type JobPage, type JobPartitionView, type OpenWindows } from './jobs.ts';
