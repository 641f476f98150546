/**
 * warren's public API. Everything exported here is listed by name; what is
 * not exported is internal. Test helpers (finding or starting a broker or a
 * PostgreSQL server) live in `src/testing/` and are not part of this entry.
 */

// Client: connections, publish, consume.
export {
  type ConnectOptions,
  connect,
  connectDefaults,
  type PublishFunction,
  type TypedPublisher,
  Warren,
  type WarrenEvents,
} from "./client.ts";
export type { BackoffOptions } from "./connection/backoff.ts";
export { maskUrl } from "./connection/url.ts";
export {
  type CloseOptions,
  Consumer,
  type ConsumerEvents,
} from "./consumer/consume.ts";
export type { MessageContext } from "./consumer/context.ts";
export {
  type ConsumeOptions,
  consumeDefaults,
  type Handler,
  type IdempotencyOptions,
} from "./consumer/options.ts";
export { HandlerTimeoutError } from "./consumer/outcome.ts";
export type { DeadLetterReason } from "./consumer/retry.ts";
// Dead letters.
export type {
  DeadLetter,
  DeathRecord,
} from "./dlq/dead-letter.ts";
export { DeadLetterError, DeadLetterErrorCode, type ReplayProgress } from "./dlq/errors.ts";
export {
  type DeadLetterListing,
  dlqDefaults,
  type InspectDeadLettersOptions,
  inspectDeadLetters,
} from "./dlq/inspect.ts";
export {
  type PurgeDeadLettersOptions,
  type PurgeResult,
  purgeDeadLetters,
} from "./dlq/purge.ts";
export {
  type DeadLetterFilter,
  type ReplayDeadLettersOptions,
  type ReplayedLetter,
  type ReplayResult,
  replayDeadLetters,
} from "./dlq/replay.ts";
// Errors.
export {
  ConnectionError,
  ConsumeError,
  NonRetryableError,
  PublishError,
  TopologyError,
  type TopologyIssue,
  WarrenError,
  type WarrenErrorOptions,
} from "./errors.ts";
export { HEADER } from "./headers.ts";
// Idempotency.
export { IdempotencyError, IdempotencyErrorCode } from "./idempotency/errors.ts";
export {
  createIdempotencyGuard,
  IDEMPOTENCY_DEFAULTS,
  type IdempotencyGuardOptions,
  type IdempotencyLimits,
} from "./idempotency/guard.ts";
export {
  createMemoryIdempotencyStore,
  MEMORY_STORE_DEFAULTS,
  type MemoryIdempotencyStore,
  type MemoryIdempotencyStoreOptions,
} from "./idempotency/memory-store.ts";
export {
  type IdempotencyMigrationOptions,
  idempotencyMigrationSql,
  migrateIdempotencyStore,
  type SqlRunner,
} from "./idempotency/migrate.ts";
export {
  createPostgresIdempotencyStore,
  POSTGRES_STORE_DEFAULTS,
  type PostgresIdempotencyStore,
  type PostgresIdempotencyStoreOptions,
} from "./idempotency/postgres-store.ts";
export {
  createTransactionalIdempotencyGuard,
  type TransactionalGuardOptions,
  type TransactionalIdempotencyGuard,
} from "./idempotency/transactional.ts";
export type {
  BeginResult,
  GuardOutcome,
  IdempotencyGuard,
  IdempotencyStore,
  TimedIdempotencyGuard,
  TransactionScope,
} from "./idempotency/types.ts";
export type { BrokerEndpointOptions, TlsFiles } from "./management/endpoint.ts";
// Observability.
export {
  type HealthServer,
  type HealthServerOptions,
  healthServerDefaults,
  type Readiness,
  type ReadinessCheck,
  readinessCheck,
  serveHealth,
} from "./observability/health.ts";
export {
  type ConsumeOutcome,
  createMetrics,
  type PublishOutcome,
  type WarrenMetrics,
} from "./observability/metrics.ts";
export type { TracingOptions } from "./observability/tracing.ts";
export type { ConfirmedSender, Envelope } from "./publisher/envelope.ts";
export {
  defineMessages,
  type MessageRegistry,
  type MessageSchemas,
  type PayloadOf,
  type RoutingKeyOf,
} from "./publisher/messages.ts";
export { type PublisherOptions, publisherDefaults } from "./publisher/options.ts";
export { type PublishOptions, uuidv7 } from "./publisher/publish.ts";
export { PUBLISH_ERROR_CODES, type PublishErrorCode } from "./publisher/publish-errors.ts";
// Operating: status, workers (health, metrics and tracing under Observability).
export {
  type QueueCounts,
  type QueueStatusOptions,
  type QueueStatusReport,
  readQueueStatus,
  type StatusProblem,
  type StatusProblemOptions,
  statusProblems,
  type WorkQueueStatus,
} from "./status/queue-status.ts";
// Topology as code.
export {
  type ApplyOptions,
  type ApplyResult,
  applyTopology,
  planAgainstBroker,
  type TopologyTargetOptions,
} from "./topology/apply.ts";
export { compileTopology, retryTierFor } from "./topology/compile.ts";
export { formatDelay, parseDuration } from "./topology/duration.ts";
export { type Definitions, exportDefinitions } from "./topology/export.ts";
export { topologyJsonSchema } from "./topology/json-schema.ts";
export {
  type LoadTopologyOptions,
  loadTopology,
  type ParseTopologyOptions,
  parseTopology,
  resolveTopology,
} from "./topology/load.ts";
export type {
  BindingObject,
  CompiledTopology,
  ExchangeObject,
  ExchangeType,
  QueueObject,
  QueueRole,
  QueueType,
  RetryPolicy,
  RetryTier,
} from "./topology/model.ts";
export { type ObservedTopology, observeTopology } from "./topology/observe.ts";
export {
  type Plan,
  type PlanDifference,
  type PlanStatus,
  type PlanStep,
  type PlanSummary,
  planTopology,
} from "./topology/plan.ts";
export {
  type BindingDefinition,
  type ExchangeDefinition,
  type QueueDefinition,
  type Topology,
  type TopologyInput,
  topologySchema,
} from "./topology/schema.ts";
export { defineWorker, type WorkerDefinition } from "./worker/define-worker.ts";
export {
  type DrainResult,
  type RunningWorker,
  type RunWorkerOptions,
  runWorker,
  runWorkerDefaults,
} from "./worker/run-worker.ts";
