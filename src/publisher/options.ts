/**
 * Settings of the publisher, resolved once when it is created (each with its
 * unit and default), and their frozen defaults.
 */
import { z } from "zod";
import { integer } from "../options.ts";

/** Settings of the publisher; see {@link publisherDefaults}. */
export interface PublisherOptions {
  /**
   * Exchange that `publish` sends to unless a call names another. The empty
   * string is the default exchange (routing key = queue name).
   * @default ""
   */
  exchange: string;
  /**
   * Time allowed for one publish, from the call until the broker's confirm
   * (including time spent waiting for room or for a connection), in
   * milliseconds.
   * @default 10000
   */
  timeoutMs: number;
  /**
   * Most messages written and not yet confirmed. Further publishes wait for
   * room (their timeout running), which keeps memory flat when callers
   * publish faster than the broker confirms.
   * @default 1000
   */
  maxInFlight: number;
  /**
   * Most publishes waiting for room or for a connection. Beyond it a publish
   * fails at once (`WARREN_PUBLISH_BACKLOG_FULL`, or
   * `WARREN_PUBLISH_NOT_CONNECTED` while disconnected).
   * @default 100000
   */
  maxQueued: number;
  /**
   * Largest JSON body `publish` sends, in bytes; larger ones fail with
   * `WARREN_PUBLISH_TOO_LARGE` before anything is sent. Not applied to
   * `send` (the consumer runtime re-publishes messages as they are).
   * @default 1048576 (1 MiB)
   */
  maxBytes: number;
  /**
   * How long a publish may wait while the broker blocks the connection
   * (resource alarm), in milliseconds. 0 fails it at once with
   * `WARREN_PUBLISH_BLOCKED`.
   * @default 0
   */
  blockedTimeoutMs: number;
}

/** Defaults of {@link PublisherOptions}. */
export const publisherDefaults: Readonly<PublisherOptions> = Object.freeze({
  /** Exchange `publish` sends to. @default "" (the default exchange) */
  exchange: "",
  /** Time allowed for one publish until its confirm, in milliseconds. @default 10000 */
  timeoutMs: 10_000,
  /** Most messages written and not yet confirmed. @default 1000 */
  maxInFlight: 1000,
  /** Most publishes waiting for room or a connection. @default 100000 */
  maxQueued: 100_000,
  /** Largest JSON body, in bytes. @default 1048576 (1 MiB) */
  maxBytes: 1_048_576,
  /** Longest wait while the broker blocks publishing, in milliseconds; 0 fails at once. @default 0 */
  blockedTimeoutMs: 0,
});

/**
 * The checks of the `publisher` options of `connect` (everything but
 * `exchange`, which is `connect`'s `publishExchange`), with their defaults.
 */
export const publisherSchema = z.object({
  timeoutMs: integer(1).default(publisherDefaults.timeoutMs),
  maxInFlight: integer(1).default(publisherDefaults.maxInFlight),
  maxQueued: integer(0).default(publisherDefaults.maxQueued),
  maxBytes: integer(1).default(publisherDefaults.maxBytes),
  blockedTimeoutMs: integer(0).default(publisherDefaults.blockedTimeoutMs),
});
