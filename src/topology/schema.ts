/**
 * The topology file format (docs/topology.md) as one zod schema: the single source
 * of truth for parsing, for the {@link TopologyInput} / {@link Topology} types
 * and for the JSON Schema editors use (`scripts/emit-json-schema.ts`).
 *
 * Parsing resolves the file: durations become milliseconds (`messageTtlMs`,
 * `retry.delaysMs`) and every default is filled in, so code past this point
 * never re-checks or re-defaults. Rules that a single field cannot express
 * (cross-references, retry loops, arguments by queue type) run once, as the
 * schema's refinement, from ./validate.ts.
 */
import { z } from "zod";
import {
  DURATION_STRING_PATTERN,
  describeValue,
  durationProblem,
  parseDuration,
} from "./duration.ts";
import type { PartitionKey } from "./model.ts";
import { findTopologyProblems } from "./validate.ts";

/** Defaults applied while parsing a topology file. */
export const TOPOLOGY_DEFAULTS = Object.freeze({
  /** @default "/" */
  vhost: "/",
  /** @default "quorum" */
  queueType: "quorum",
  /**
   * `x-delivery-limit` of a quorum work queue when `deliveryLimit` is not
   * given: how many times the broker redelivers one message (consumer crash,
   * requeue after a failed retry publish) before dead-lettering it. Handler
   * failures do not count: the runtime acks them after publishing a retry
   * copy. 20 is RabbitMQ 4's own default, so the behaviour does not change
   * with the broker version.
   * @default 20
   */
  deliveryLimit: 20,
  /**
   * `x-overflow` when a length limit is set (always on quorum queues):
   * publishes to a full queue are refused, so the publisher sees a nack
   * instead of the broker silently dropping the oldest message.
   * @default "reject-publish"
   */
  overflow: "reject-publish",
} as const);

export const EXCHANGE_TYPES = ["direct", "fanout", "topic", "headers"] as const;
export const QUEUE_TYPES = ["quorum", "classic"] as const;
export const OVERFLOW_MODES = ["drop-head", "reject-publish", "reject-publish-dlx"] as const;

const DURATION_HELP = "integer milliseconds, or an integer with a unit: 500ms, 10s, 5m, 1h";

/** A duration as written (`500ms`, `10s`, `5m`, `1h` or integer ms), parsed to ms. */
export const durationSchema = z
  .union([z.number(), z.string()], {
    error: (issue) => `expected a duration (${DURATION_HELP}), got ${describeValue(issue.input)}`,
  })
  .transform((value, ctx) => {
    const problem = durationProblem(value);
    if (problem !== undefined) {
      ctx.issues.push({ code: "custom", message: problem, input: value });
      return z.NEVER;
    }
    return parseDuration(value);
  })
  .meta({ id: "duration", description: `A duration: ${DURATION_HELP}.` });

/** JSON Schema of a duration as written (zod cannot derive it from the transform). */
export const DURATION_JSON_SCHEMA = {
  description: `A duration: ${DURATION_HELP}.`,
  anyOf: [
    { type: "integer", minimum: 0 },
    { type: "string", pattern: DURATION_STRING_PATTERN },
  ],
} as const;

const headerValue = z.union([z.string(), z.number(), z.boolean()], {
  error: (issue) => `expected a string, number or boolean, got ${describeValue(issue.input)}`,
});

const headersSchema = z
  .object({
    match: z
      .enum(["all", "any"])
      .default("all")
      .describe("`all`: every header must match; `any`: one is enough. Sent as `x-match`."),
  })
  .catchall(headerValue)
  .describe("Headers to match (headers exchanges only), plus `match: all | any`.");

const bindingFields = z.strictObject({
  exchange: z.string().min(1).describe("The source exchange (declared in this file)."),
  routingKey: z
    .string()
    .optional()
    .describe(
      "Binding key; required for direct and topic exchanges, refused for fanout and headers.",
    ),
  headers: headersSchema.optional(),
});
export const bindingSchema = bindingFields.describe("A binding from a declared exchange.");

const exchangeFields = z.strictObject({
  type: z.enum(EXCHANGE_TYPES).describe("direct | fanout | topic | headers"),
  durable: z.boolean().default(true).describe("Survives a broker restart. Default true."),
  autoDelete: z
    .boolean()
    .default(false)
    .describe("Deleted when its last binding goes. Default false."),
  internal: z
    .boolean()
    .default(false)
    .describe("Only other exchanges can publish to it. Default false."),
  alternateExchange: z
    .string()
    .min(1)
    .optional()
    .describe("Declared exchange that receives messages this one cannot route."),
  bindings: z
    .array(bindingSchema)
    .default([])
    .describe("Exchange-to-exchange bindings: messages flow from `exchange` into this one."),
  delays: z
    .array(durationSchema)
    .default([])
    .describe(
      "Delays `publish(..., { delay })` may use with this exchange; each is a wait queue `<exchange>.delay.<delay>`.",
    ),
});
export const exchangeSchema = exchangeFields.transform((exchange) => {
  const { delays, ...rest } = exchange;
  /** Declared publish delays, in ms, in file order. */
  return { ...rest, delaysMs: delays };
});

const retryFields = z.strictObject({
  delays: z
    .array(durationSchema)
    .default([])
    .describe("Wait before retry n (the last delay repeats); one TTL queue per distinct delay."),
  maxAttempts: z
    .int()
    .min(1, { error: "must be at least 1 (the first attempt counts)" })
    .optional()
    .describe("Attempts in all, the first included, before dead-lettering. Default: delays + 1."),
});
const retrySchema = retryFields.transform((retry) => ({
  /** Wait before retry n, in ms; the last one repeats. */
  delaysMs: retry.delays,
  /** Attempts in all, the first included. */
  maxAttempts: retry.maxAttempts ?? retry.delays.length + 1,
}));

const deadLetterFields = z.strictObject({
  exchange: z
    .string()
    .min(1)
    .describe("Declared exchange that receives the broker's dead letters."),
  routingKey: z
    .string()
    .optional()
    .describe("Routing key for them; the message's own routing key when absent."),
});

/**
 * What a partitioned queue hashes: `routingKey` (default), `messageId`, or
 * `{ header: <name> }`. Anything else is refused with the three forms.
 */
const partitionBySchema = z
  .union(
    [
      z.enum(["routingKey", "messageId"]),
      z.strictObject({ header: z.string().min(1).describe("Header whose value is hashed.") }),
    ],
    {
      error: (issue) =>
        `expected routingKey, messageId or { header: <name> }, got ${describeValue(issue.input)}`,
    },
  )
  .describe(
    "What picks a message's partition: routingKey (default), messageId, or { header: <name> }.",
  );

const queueFields = z.strictObject({
  type: z
    .enum(QUEUE_TYPES)
    .default(TOPOLOGY_DEFAULTS.queueType)
    .describe("quorum (default) | classic"),
  durable: z
    .literal(true, {
      error:
        "warren declares every queue durable: a non-durable queue loses its messages when the broker restarts; remove durable: false",
    })
    .default(true)
    .describe("Always true."),
  bindings: z.array(bindingSchema).default([]),
  retry: retrySchema.optional().describe("Retry tiers; without it a message has one attempt."),
  deliveryLimit: z
    .int()
    .min(1)
    .optional()
    .describe(
      `Quorum only: redeliveries before the broker dead-letters (crash-loop cap). Default ${TOPOLOGY_DEFAULTS.deliveryLimit}.`,
    ),
  initialGroupSize: z
    .int()
    .min(1)
    .max(255)
    .optional()
    .describe(
      "Quorum only: how many cluster nodes hold a replica of the queue, its retry tiers and its .dlq (x-quorum-initial-group-size). Default: the broker's (every node of the cluster, as of RabbitMQ 3.10); a value above the number of nodes means every node.",
    ),
  maxLength: z.int().min(1).optional().describe("Maximum number of ready messages."),
  maxLengthBytes: z.int().min(1).optional().describe("Maximum total body size of ready messages."),
  overflow: z
    .enum(OVERFLOW_MODES)
    .optional()
    .describe("What a full queue does; default reject-publish. Quorum: reject-publish only."),
  messageTtl: durationSchema.optional().describe("Messages older than this are dead-lettered."),
  singleActiveConsumer: z
    .boolean()
    .default(false)
    .describe("Only one consumer receives at a time."),
  priority: z
    .int()
    .min(1)
    .max(255, { error: "RabbitMQ supports at most 255 priority levels (10 or fewer is advised)" })
    .optional()
    .describe(
      "Classic only: highest message priority the queue honours (x-max-priority, 1-255; keep it at 10 or less).",
    ),
  partitions: z
    .int()
    .min(1)
    .max(256)
    .optional()
    .describe(
      "Split the queue into this many partitions Q.p0 … Q.p<N-1> behind a consistent-hash exchange Q.partitions; each has a single active consumer.",
    ),
  partitionBy: partitionBySchema.optional(),
  deadLetter: deadLetterFields
    .optional()
    .describe(
      "Send the broker's dead letters (delivery limit, TTL, overflow) here instead of Q.dlq.",
    ),
  arguments: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .default({})
    .describe("Extra x- arguments for the work queue; only known keys that warren does not set."),
});

export const queueSchema = queueFields.transform((queue) => {
  const { retry, messageTtl, overflow, deliveryLimit, partitionBy, ...rest } = queue;
  const limited = queue.maxLength !== undefined || queue.maxLengthBytes !== undefined;
  const resolvedOverflow =
    overflow ?? (queue.type === "quorum" || limited ? TOPOLOGY_DEFAULTS.overflow : undefined);
  const resolvedLimit =
    deliveryLimit ?? (queue.type === "quorum" ? TOPOLOGY_DEFAULTS.deliveryLimit : undefined);
  return {
    ...rest,
    retry: retry ?? { delaysMs: [], maxAttempts: 1 },
    ...(messageTtl === undefined ? {} : { messageTtlMs: messageTtl }),
    ...(resolvedOverflow === undefined ? {} : { overflow: resolvedOverflow }),
    ...(resolvedLimit === undefined ? {} : { deliveryLimit: resolvedLimit }),
    ...(partitionBy === undefined ? {} : { partitionBy: partitionKeyOf(partitionBy) }),
  };
});

function partitionKeyOf(value: z.output<typeof partitionBySchema>): PartitionKey {
  if (typeof value === "string") return { kind: value };
  return { kind: "header", header: value.header };
}

const topologyFields = z.strictObject({
  vhost: z.string().min(1).default(TOPOLOGY_DEFAULTS.vhost).describe('Virtual host. Default "/".'),
  exchanges: z.record(z.string(), exchangeSchema).default({}).describe("Exchanges by name."),
  queues: z.record(z.string(), queueSchema).default({}).describe("Work queues by name."),
});

/** The whole topology file: parses and validates into a {@link Topology}. */
export const topologySchema = topologyFields.superRefine(
  (topology, ctx) => {
    for (const problem of findTopologyProblems(topology)) {
      ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
    }
  },
  // The rules read the resolved values, so they run only on a well-formed file.
  { when: (payload) => payload.issues.length === 0 },
);

/** A topology as written in a file (durations as strings, defaults optional). */
export type TopologyInput = z.input<typeof topologyFields>;
/** A validated topology: durations in ms, every default applied. */
export type Topology = z.output<typeof topologyFields>;
export type ExchangeDefinition = Topology["exchanges"][string];
export type QueueDefinition = Topology["queues"][string];
export type BindingDefinition = z.output<typeof bindingSchema>;

/**
 * The keys allowed at `path` in a topology file, for "did you mean" hints on
 * unknown keys. `undefined` where the path is not a strict object.
 */
export function knownKeysAt(path: readonly PropertyKey[]): readonly string[] | undefined {
  const [section, , field, index] = path;
  const keys = (schema: { shape: object }) => Object.keys(schema.shape);
  if (path.length === 0) return keys(topologyFields);
  if (section === "exchanges") {
    if (path.length === 2) return keys(exchangeFields);
    if (field === "bindings" && typeof index === "number" && path.length === 4) {
      return keys(bindingFields);
    }
  }
  if (section === "queues") {
    if (path.length === 2) return keys(queueFields);
    if (field === "retry" && path.length === 3) return keys(retryFields);
    if (field === "deadLetter" && path.length === 3) return keys(deadLetterFields);
    if (field === "partitionBy" && path.length === 3) return ["header"];
    if (field === "bindings" && typeof index === "number" && path.length === 4) {
      return keys(bindingFields);
    }
  }
  return undefined;
}
