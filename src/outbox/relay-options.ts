/**
 * Settings of the outbox relay: each with its unit and default, resolved
 * once by a zod schema when the relay is created.
 */
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { z } from "zod";
import { integer, opaque } from "../options.ts";

/** Options of `outbox.startRelay`; every field has a default in {@link relayDefaults}. */
export interface RelayOptions {
  /** Most rows claimed and published per transaction. @default 200 */
  batchSize?: number;
  /** Poll interval when no NOTIFY arrives, in milliseconds. @default 1000 */
  pollIntervalMs?: number;
  /** Broker refusals (unroutable, nacked) of one row before it is kept as failed. @default 10 */
  maxAttempts?: number;
  /** Delay after a row's first refusal, doubling per refusal, in milliseconds. @default 1000 */
  retryDelayMs?: number;
  /** Upper bound of that delay, in milliseconds. @default 60000 */
  maxRetryDelayMs?: number;
  /** Confirm timeout of each publish, in milliseconds. @default 10000 */
  publishTimeoutMs?: number;
  /** How long sent rows are kept, in milliseconds; 0 deletes them when confirmed. @default 86400000 (1 day) */
  retentionMs?: number;
  /** How often sent rows past their retention are deleted, in milliseconds. @default 60000 */
  cleanupIntervalMs?: number;
  /** Rows deleted per cleanup statement. @default 1000 */
  cleanupBatchSize?: number;
  /** How often the pending/failed gauges are refreshed, in milliseconds. @default 5000 */
  statsIntervalMs?: number;
  /** Registry of the relay's metrics. @default the client's registry */
  registry?: Registry;
  /** Logger. @default a child of the client's logger */
  logger?: Logger;
}

/** Defaults of {@link RelayOptions}. */
export const relayDefaults = Object.freeze({
  batchSize: 200,
  pollIntervalMs: 1_000,
  maxAttempts: 10,
  retryDelayMs: 1_000,
  maxRetryDelayMs: 60_000,
  publishTimeoutMs: 10_000,
  retentionMs: 86_400_000,
  cleanupIntervalMs: 60_000,
  cleanupBatchSize: 1_000,
  statsIntervalMs: 5_000,
});

export type ResolvedRelayOptions = { readonly [K in keyof typeof relayDefaults]: number };

/** Checks and completes {@link RelayOptions}; unknown options are refused. */
export const relaySchema = z
  .object({
    batchSize: integer(1, 10_000).default(relayDefaults.batchSize),
    pollIntervalMs: integer(1).default(relayDefaults.pollIntervalMs),
    maxAttempts: integer(1).default(relayDefaults.maxAttempts),
    retryDelayMs: integer(1).default(relayDefaults.retryDelayMs),
    maxRetryDelayMs: integer(1).default(relayDefaults.maxRetryDelayMs),
    publishTimeoutMs: integer(1).default(relayDefaults.publishTimeoutMs),
    retentionMs: integer(0).default(relayDefaults.retentionMs),
    cleanupIntervalMs: integer(1).default(relayDefaults.cleanupIntervalMs),
    cleanupBatchSize: integer(1).default(relayDefaults.cleanupBatchSize),
    statsIntervalMs: integer(1).default(relayDefaults.statsIntervalMs),
    registry: opaque<Registry | undefined>().optional(),
    logger: opaque<Logger | undefined>().optional(),
  })
  .strict();
