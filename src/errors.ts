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

/** Options shared by every warren error. */
export interface WarrenErrorOptions {
  /** The error that caused this one, if any. */
  cause?: unknown;
}

/** Base class of every error warren throws. */
export class WarrenError extends Error {
  /** Stable, documented identifier (see docs/errors.md). */
  readonly code: string;

  constructor(code: string, message: string, options: WarrenErrorOptions = {}) {
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
    code: string,
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
    code: string,
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
