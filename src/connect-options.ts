/**
 * The one place `connect()`'s options are checked: a zod schema that fills
 * in {@link connectDefaults} and the publisher's defaults, so a bad value
 * (`publisher: { maxInFlight: 0 }`) rejects `connect` before any socket is
 * opened, naming the option. The client and its connections take only the
 * resolved type.
 */
import type { SocketOptions } from "amqplib";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { z } from "zod";
import type { ConnectOptions } from "./client.ts";
import { type BackoffOptions, backoffDefaults } from "./connection/backoff.ts";
import { connectionDefaults } from "./connection/connection.ts";
import type { TracingOptions } from "./observability/tracing.ts";
import { integer, nonEmptyString, numberAtLeast, opaque, resolveOptions } from "./options.ts";
import type { MessageRegistry, MessageSchemas } from "./publisher/messages.ts";
import { type PublisherOptions, publisherSchema } from "./publisher/options.ts";
import type { CompiledTopology } from "./topology/model.ts";
import type { Topology } from "./topology/schema.ts";

/** Defaults of {@link ConnectOptions}. */
export const connectDefaults = Object.freeze({
  /** Exchange `publish` sends to. @default "" (the default exchange) */
  publishExchange: "",
  /** Prefix of the connection names shown in the management UI. @default "warren" */
  serviceName: "warren",
  /** AMQP heartbeat, in seconds; 0 disables it. @default 10 */
  heartbeatSeconds: connectionDefaults.heartbeatSeconds,
  /** How long the first connect keeps retrying, in milliseconds. @default 60000 */
  initialConnectDeadlineMs: connectionDefaults.initialConnectDeadlineMs,
  /** Socket timeout of one connect attempt, in milliseconds. @default 10000 */
  connectTimeoutMs: connectionDefaults.connectTimeoutMs,
  /** Reconnect backoff. @default { initialDelayMs: 100, maxDelayMs: 10000, multiplier: 2 } */
  backoff: backoffDefaults,
});

const backoffSchema = z
  .object({
    initialDelayMs: integer(1).default(backoffDefaults.initialDelayMs),
    maxDelayMs: integer(1).default(backoffDefaults.maxDelayMs),
    multiplier: numberAtLeast(1).default(backoffDefaults.multiplier),
  })
  .prefault({});

const connectSchema = z.object({
  url: z.union([nonEmptyString(), z.array(nonEmptyString())], {
    error: "a broker URL or a list of broker URLs",
  }),
  publishExchange: z.string({ error: "a string" }).default(connectDefaults.publishExchange),
  serviceName: nonEmptyString().default(connectDefaults.serviceName),
  heartbeatSeconds: integer(0).default(connectDefaults.heartbeatSeconds),
  initialConnectDeadlineMs: integer(0).default(connectDefaults.initialConnectDeadlineMs),
  connectTimeoutMs: integer(1).default(connectDefaults.connectTimeoutMs),
  backoff: backoffSchema,
  publisher: publisherSchema.prefault({}),
  topology: opaque<Topology | CompiledTopology>().optional(),
  messages: opaque<MessageRegistry<MessageSchemas>>().optional(),
  logger: opaque<Logger>().optional(),
  registry: opaque<Registry>().optional(),
  socketOptions: opaque<SocketOptions>().optional(),
  // Loaded by connect() before the client exists (observability/tracing.ts).
  tracing: z.union([z.boolean(), opaque<TracingOptions>()]).optional(),
});

/** {@link ConnectOptions} after checks and defaults. */
export interface ResolvedConnectOptions<M extends MessageSchemas = MessageSchemas> {
  readonly urls: readonly string[];
  readonly publishExchange: string;
  readonly serviceName: string;
  readonly heartbeatSeconds: number;
  readonly initialConnectDeadlineMs: number;
  readonly connectTimeoutMs: number;
  readonly backoff: Readonly<BackoffOptions>;
  readonly publisher: Readonly<Omit<PublisherOptions, "exchange">>;
  readonly topology: Topology | CompiledTopology | undefined;
  readonly messages: MessageRegistry<M> | undefined;
  readonly logger: Logger | undefined;
  readonly registry: Registry | undefined;
  readonly socketOptions: SocketOptions | undefined;
}

/**
 * Checks `connect()`'s options once and fills in the defaults.
 *
 * @throws WarrenError `WARREN_INVALID_OPTIONS` naming the option, e.g.
 *   `publisher.maxInFlight`.
 */
export function resolveConnectOptions<M extends MessageSchemas>(
  options: ConnectOptions<M>,
): ResolvedConnectOptions<M> {
  const o = resolveOptions(connectSchema, options, { context: "connect()" });
  return Object.freeze({
    urls: Object.freeze(typeof o.url === "string" ? [o.url] : [...o.url]),
    publishExchange: o.publishExchange,
    serviceName: o.serviceName,
    heartbeatSeconds: o.heartbeatSeconds,
    initialConnectDeadlineMs: o.initialConnectDeadlineMs,
    connectTimeoutMs: o.connectTimeoutMs,
    backoff: o.backoff,
    publisher: o.publisher,
    topology: options.topology,
    messages: options.messages,
    logger: options.logger,
    registry: options.registry,
    socketOptions: options.socketOptions,
  });
}
