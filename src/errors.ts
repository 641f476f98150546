/**
 * Every error warren throws is a {@link WarrenError} with a stable `code`
 * (catalogued in docs/errors.md) and, where one exists, the underlying
 * `cause`. Subclasses group errors by who can recover from them:
 *
 * - {@link TopologyError}: the topology file or the broker's objects disagree
 *   with what the file asks for. Fix the file or the broker.
 * - {@link ConnectionError}: the broker cannot be reached or dropped us.
 *   Usually transient; warren reconnects on its own.
 * - {@link PublishError}: one publish did not reach the broker, or reached it
 *   and was refused. The caller decides whether to retry.
 * - {@link ConsumeError}: misuse of the consumer runtime.
 *
 * {@link NonRetryableError} is different: handlers throw it to send a message
 * straight to its dead-letter queue.
 */

/**
 * Every error code warren throws, mapped to the scope that can act on it.
 * This map is the one list of codes: `WarrenError.code` is typed as its keys,
 * throw sites use {@link ErrorCode} constants, and a unit test checks that
 * docs/errors.md documents exactly these codes (each with its meaning and
 * fix).
 */
export const ERROR_CODES = Object.freeze({
  WARREN_INVALID_OPTIONS: "options",
  WARREN_DEPENDENCY_MISSING: "options",
  WARREN_TOPOLOGY_NOT_FOUND: "topology",
  WARREN_TOPOLOGY_UNREADABLE: "topology",
  WARREN_TOPOLOGY_PARSE: "topology",
  WARREN_TOPOLOGY_ENV: "topology",
  WARREN_TOPOLOGY_INVALID: "topology",
  WARREN_TOPOLOGY_CONFLICT: "topology",
  WARREN_TOPOLOGY_APPLY_FAILED: "topology",
  WARREN_TOPOLOGY_PLUGIN_MISSING: "topology",
  WARREN_MANAGEMENT_UNREACHABLE: "connection",
  WARREN_MANAGEMENT_AUTH: "connection",
  WARREN_MANAGEMENT_REQUEST_FAILED: "connection",
  WARREN_URL_INVALID: "connection",
  WARREN_TLS_FILE_UNREADABLE: "connection",
  WARREN_BROKER_UNREACHABLE: "connection",
  WARREN_BROKER_AUTH: "connection",
  WARREN_CLI_USAGE: "cli",
  WARREN_UNEXPECTED: "cli",
  WARREN_IDEMPOTENCY_RETENTION_TOO_SHORT: "idempotency",
  WARREN_IDEMPOTENCY_LEASE_TOO_SHORT: "idempotency",
  WARREN_IDEMPOTENCY_LEASE_LOST: "idempotency",
  WARREN_IDEMPOTENCY_KEY_MISSING: "idempotency",
  WARREN_IDEMPOTENCY_STORE_FULL: "idempotency",
  WARREN_IDEMPOTENCY_TABLE_MISSING: "idempotency",
  WARREN_BROKER_NOT_FOUND: "testing",
  WARREN_BROKER_START_FAILED: "testing",
  WARREN_POSTGRES_NOT_FOUND: "testing",
  WARREN_POSTGRES_START_FAILED: "testing",
  WARREN_PUBLISH_NACKED: "publish",
  WARREN_PUBLISH_UNROUTABLE: "publish",
  WARREN_PUBLISH_TIMEOUT: "publish",
  WARREN_PUBLISH_CONNECTION_LOST: "publish",
  WARREN_PUBLISH_BLOCKED: "publish",
  WARREN_PUBLISH_TOO_LARGE: "publish",
  WARREN_PUBLISH_INVALID_PAYLOAD: "publish",
  WARREN_PUBLISH_NOT_CONNECTED: "publish",
  WARREN_PUBLISH_BACKLOG_FULL: "publish",
  WARREN_PUBLISH_CLOSED: "publish",
  WARREN_PUBLISH_INVALID_OPTIONS: "publish",
  WARREN_PUBLISH_DELAY_UNDECLARED: "publish",
  WARREN_CONSUME_NO_TOPOLOGY: "consume",
  WARREN_CONSUME_CLIENT_CLOSED: "consume",
  WARREN_CONNECT_TIMEOUT: "connection",
  WARREN_CONNECTION_NO_URL: "connection",
  WARREN_CONNECTION_CLOSED: "connection",
  WARREN_CONNECTION_LOST: "connection",
  WARREN_CONNECTION_UNAVAILABLE: "connection",
  WARREN_DLQ_NOT_FOUND: "dlq",
  WARREN_DLQ_TARGET_MISSING: "dlq",
  WARREN_DLQ_REPLAY_FAILED: "dlq",
  WARREN_DLQ_PURGE_UNCONFIRMED: "dlq",
  WARREN_CONSUME_UNKNOWN_QUEUE: "consume",
  WARREN_WORKER_INVALID: "consume",
  WARREN_CONSUME_QUEUE_MISSING: "consume",
  WARREN_CONSUME_SUBSCRIBE_FAILED: "consume",
  WARREN_RETRY_LATER_INVALID_DELAY: "consume",
  WARREN_CONSOLE_LISTEN_FAILED: "console",
  WARREN_CONSOLE_ASSETS_MISSING: "console",
  WARREN_CONSOLE_FORBIDDEN: "console",
  WARREN_CONSOLE_BAD_REQUEST: "console",
  WARREN_CONSOLE_UNKNOWN_QUEUE: "console",
  WARREN_OUTBOX_TABLE_MISSING: "outbox",
  WARREN_OUTBOX_NOT_IN_TRANSACTION: "outbox",
  WARREN_OUTBOX_DATABASE_UNAVAILABLE: "outbox",
  WARREN_OUTBOX_RELAY_STATE: "outbox",
} as const satisfies Record<string, ErrorScope>);

/**
 * Who can act on an error: `options` (the caller passed a bad option, or a
 * needed optional package is missing), `topology`, `connection`, `publish`,
 * `consume`, `idempotency`, `dlq`, `console` (the web console), `outbox`
 * (the transactional outbox), `cli` (command-line usage) and `testing`
 * (the `warren/testing` helpers).
 */
export type ErrorScope =
  | "options"
  | "topology"
  | "connection"
  | "publish"
  | "consume"
  | "idempotency"
  | "dlq"
  | "console"
  | "outbox"
  | "cli"
  | "testing";

/** A stable error code: one of the keys of {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes as constants (`ErrorCode.WARREN_PUBLISH_NACKED`), so no code is spelt twice. */
export const ErrorCode: { readonly [K in ErrorCode]: K } = Object.freeze(
  Object.fromEntries(Object.keys(ERROR_CODES).map((code) => [code, code])) as {
    [K in ErrorCode]: K;
  },
);

/** Options shared by every warren error. */
export interface WarrenErrorOptions {
  /** The error that caused this one, if any. */
  cause?: unknown;
}

/** Base class of every error warren throws. */
export class WarrenError extends Error {
  /** Stable, documented identifier (see docs/errors.md). */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options: WarrenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** One problem found in a topology file. */
export interface TopologyIssue {
  /** Where in the file, e.g. `queues."orders.fulfil".bindings[0]`; empty for the whole file. */
  path: string;
  /** 1-based line in the file, when known. */
  line?: number;
  /** What is wrong and how to fix it. */
  message: string;
}

/** The topology file is invalid, or the broker's objects conflict with it. */
export class TopologyError extends WarrenError {
  /** Every problem found in the file (empty when the error is not about a file). */
  readonly issues: readonly TopologyIssue[];

  constructor(
    code: ErrorCode,
    message: string,
    options: WarrenErrorOptions & { issues?: readonly TopologyIssue[] } = {},
  ) {
    super(code, message, options);
    this.issues = options.issues ?? [];
  }
}

/** The broker (AMQP or management API) could not be reached or closed on us. */
export class ConnectionError extends WarrenError {}

/** A publish was refused, timed out, or its outcome is unknown. */
export class PublishError extends WarrenError {
  /**
   * True when the message may have reached the broker even though the publish
   * failed (for example the connection dropped after the message was written
   * but before its confirm arrived). Consumers must be idempotent for these.
   */
  readonly inDoubt: boolean;

  constructor(
    code: ErrorCode,
    message: string,
    options: WarrenErrorOptions & { inDoubt?: boolean } = {},
  ) {
    super(code, message, options);
    this.inDoubt = options.inDoubt ?? false;
  }
}

/** The consumer runtime was misused (unknown queue, bad options). */
export class ConsumeError extends WarrenError {}

/**
 * Thrown by a handler to dead-letter the message at once, without retries
 * (`warren-reason: non-retryable`). Use it for messages that can never
 * succeed, such as a reference to a record that does not exist.
 */
export class NonRetryableError extends Error {
  constructor(message: string, options: WarrenErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "NonRetryableError";
  }
}
