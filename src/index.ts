/**
 * warren's public API, listed by name and grouped by what a user does with
 * it. What is not exported here is internal (the build also strips members
 * marked internal from the published types). Test helpers (finding or starting a
 * broker or a PostgreSQL server) are the separate entry `warren/testing`
 * (src/testing/index.ts).
 */
// biome-ignore-all assist/source/organizeImports: exports are grouped by purpose, not sorted by path

// ── Connecting, publishing and consuming ────────────────────────────────────
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
export { type CloseOptions, Consumer, type ConsumerEvents } from "./consumer/consume.ts";
export type { MessageContext } from "./consumer/context.ts";
export {
  type ConsumeOptions,
  type ConsumeOrdering,
  consumeDefaults,
  type Handler,
  type IdempotencyOptions,
} from "./consumer/options.ts";
export {
  type DeliveryObservation,
  type FailureKind,
  type KillSwitchChange,
  type KillSwitchOptions,
  type KillSwitchState,
  killSwitchDefaults,
} from "./consumer/kill-switch.ts";
export { RetryLaterError, type RetryLaterOptions } from "./consumer/retry-later.ts";
export type { DeadLetterReason } from "./consumer/retry.ts";
export { HandlerTimeoutError } from "./consumer/run-handler.ts";
export { HEADER } from "./headers.ts";
export {
  defineMessages,
  type MessageRegistry,
  type MessageSchemas,
  type PayloadOf,
  type RoutingKeyOf,
} from "./publisher/messages.ts";
export { type PublisherOptions, publisherDefaults } from "./publisher/options.ts";
export type { PublishOptions } from "./publisher/publish.ts";

// ── Errors: one code map, a class per recovery scope ────────────────────────
export {
  ConnectionError,
  ConsumeError,
  ERROR_CODES,
  ErrorCode,
  type ErrorScope,
  NonRetryableError,
  PublishError,
  TopologyError,
  type TopologyIssue,
  WarrenError,
  type WarrenErrorOptions,
} from "./errors.ts";
export { ConsoleError } from "./console/errors.ts";
export { DeadLetterError, type ReplayProgress } from "./dlq/errors.ts";
export { IdempotencyError } from "./idempotency/errors.ts";

// ── Idempotency: guards and their stores ────────────────────────────────────
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

// ── Transactional outbox: commit and publish together ──────────────────────
export { OutboxError } from "./outbox/errors.ts";
export type { FailedRow } from "./outbox/failed.ts";
export {
  migrateOutbox,
  type OutboxMigrationOptions,
  outboxMigrationSql,
} from "./outbox/migrate.ts";
export {
  createPostgresOutbox,
  type OutboxClient,
  type OutboxPublishOptions,
  type OutboxRow,
  type PostgresOutbox,
  type PostgresOutboxOptions,
} from "./outbox/outbox.ts";
export { OutboxRelay, type RelayEvents, type RelayedRow } from "./outbox/relay.ts";
export { type RelayOptions, relayDefaults } from "./outbox/relay-options.ts";

// ── Dead letters: inspect, replay, purge ────────────────────────────────────
export type { DeadLetter, DeathRecord } from "./dlq/dead-letter.ts";
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
export type { BrokerEndpointOptions, TlsFiles } from "./connection/endpoint.ts";

// ── Web console: queues, retries and dead letters in a browser ──────────────
export {
  type ConsoleOptions,
  type ConsoleServer,
  consoleDefaults,
  startConsole,
} from "./console/server.ts";

// ── Observability: health endpoint and metrics ──────────────────────────────
export {
  type HealthServer,
  type HealthServerOptions,
  healthServerDefaults,
  type Readiness,
  type ReadinessCheck,
  readinessCheck,
  serveHealth,
} from "./observability/health.ts";
export type { ConsumeOutcome, PublishOutcome, WarrenMetrics } from "./observability/metrics.ts";
export type { TracingOptions } from "./observability/tracing.ts";

// ── Operating: warren status and warren worker as library calls ─────────────
export {
  type QueueCounts,
  type QueueStatusOptions,
  type QueueStatusReport,
  queuesHoldingDeadLetters,
  readQueueStatus,
  type StatusProblem,
  type StatusProblemOptions,
  statusProblems,
  type WorkQueueStatus,
} from "./status/queue-status.ts";
export { defineWorker, type WorkerDefinition } from "./worker/define-worker.ts";
export {
  type DrainResult,
  type RunningWorker,
  type RunWorkerOptions,
  runWorker,
  runWorkerDefaults,
} from "./worker/run-worker.ts";

// ── Topology as code: load, compile, plan, apply, export ────────────────────
export {
  type ApplyOptions,
  type ApplyResult,
  applyTopology,
  planAgainstBroker,
  type TopologyTargetOptions,
} from "./topology/apply.ts";
export { compileTopology, retryTierFor } from "./topology/compile.ts";
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
  DelayTier,
  ExchangeObject,
  ExchangeType,
  PartitionedQueue,
  PartitionKey,
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
export type {
  BindingDefinition,
  ExchangeDefinition,
  QueueDefinition,
  Topology,
  TopologyInput,
} from "./topology/schema.ts";
