/**
 * The console's JSON API, behind the checks of security.ts. Reads come from
 * the stats sampler and `inspectDeadLetters`; the actions call
 * `replayDeadLetters` and `purgeDeadLetters`, the same functions as
 * `warren dlq`, so the page moves messages exactly as the CLI does: each
 * replayed copy is confirmed by the broker before its dead letter is acked.
 *
 * Request bodies are parsed once, here, by zod schemas; the library
 * functions validate their own options (a bad `limit` is their
 * `WARREN_INVALID_OPTIONS`). Dead-letter operations run one at a time:
 * two walks over the same `Q.dlq` at once would lose nothing but could
 * reorder it.
 */
import { z } from "zod";
import type { BrokerEndpointOptions } from "../connection/endpoint.ts";
import { inspectDeadLetters } from "../dlq/inspect.ts";
import { purgeDeadLetters } from "../dlq/purge.ts";
import { replayDeadLetters } from "../dlq/replay.ts";
import type { DeadLetterTargetOptions } from "../dlq/target.ts";
import { ErrorCode } from "../errors.ts";
import { groupDeadLetters, groupFilter, selectionFilter } from "./dead-letter-groups.ts";
import { ConsoleError } from "./errors.ts";
import type { ConsoleTopology } from "./model.ts";
import type { QueueStatsSampler } from "./stats.ts";

/** What the page is told about where it is looking (no credentials). */
export interface ConsoleInfo {
  vhost: string;
  /** `host:port` of the broker's AMQP listener. */
  broker: string;
  /** Management API base URL, without credentials. */
  managementUrl: string;
  /** `file` when a topology file was given, else `broker`. */
  source: ConsoleTopology["source"];
}

/** Everything the handlers need. */
export interface ApiContext {
  topology: ConsoleTopology;
  info: ConsoleInfo;
  /** Broker endpoint options, passed through to the dead-letter functions as given. */
  endpoint: BrokerEndpointOptions;
  sampler: QueueStatsSampler;
  svg: string;
  /** Runs one dead-letter operation at a time. */
  exclusive: <T>(run: () => Promise<T>) => Promise<T>;
  /** One line per action, for the operator's terminal. */
  log: (line: string) => void;
}

/** An API answer: a status and a JSON value (or SVG text). */
export interface ApiResponse {
  status: number;
  body: unknown;
  contentType?: string;
}

const queueName = z.string().min(1).max(255);

const replaySchema = z.strictObject({
  queue: queueName,
  select: z.discriminatedUnion("kind", [
    z.strictObject({
      kind: z.literal("messages"),
      messages: z
        .array(
          z.strictObject({
            position: z.number().int().min(0),
            messageId: z.string().nullable(),
          }),
        )
        .min(1)
        .max(10_000),
    }),
    z.strictObject({
      kind: z.literal("group"),
      reason: z.string().nullable(),
      errorType: z.string().nullable(),
    }),
    z.strictObject({ kind: z.literal("all") }),
  ]),
  dryRun: z.boolean().default(false),
});

const purgeSchema = z.strictObject({ queue: queueName, confirm: z.boolean().default(false) });

function parseBody<T>(schema: z.ZodType<T>, raw: string): T {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConsoleError(
      ErrorCode.WARREN_CONSOLE_BAD_REQUEST,
      "the request body is not valid JSON",
    );
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
    throw new ConsoleError(
      ErrorCode.WARREN_CONSOLE_BAD_REQUEST,
      `bad request: ${issues.join("; ")}`,
    );
  }
  return parsed.data;
}

/** The dead-letter target for a work queue of the topology; refuses any other queue. */
function target(context: ApiContext, queue: string | null): DeadLetterTargetOptions {
  const found = context.topology.queues.find((q) => q.name === queue);
  if (queue === null || found === undefined) {
    const known = context.topology.queues.map((q) => q.name);
    throw new ConsoleError(
      ErrorCode.WARREN_CONSOLE_UNKNOWN_QUEUE,
      `"${queue ?? ""}" is not a work queue of this console (known: ${known.join(", ") || "none"})`,
    );
  }
  // Named by its dead-letter queue: the partitions of a partitioned queue
  // share `Q.dlq`, and `Q.dlq` names the pair (Q, Q.dlq) for the dlq module.
  return { ...context.endpoint, queue: found.deadLetterQueue, vhost: context.topology.vhost };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

async function deadLetters(context: ApiContext, query: URLSearchParams): Promise<ApiResponse> {
  const rawLimit = query.get("limit");
  const limit = rawLimit === null ? undefined : Number(rawLimit);
  const options = target(context, query.get("queue"));
  const listing = await context.exclusive(() =>
    inspectDeadLetters({ ...options, ...(limit === undefined ? {} : { limit }) }),
  );
  return {
    status: 200,
    body: { ok: true, ...listing, groups: groupDeadLetters(listing.messages) },
  };
}

async function replay(context: ApiContext, raw: string): Promise<ApiResponse> {
  const request = parseBody(replaySchema, raw);
  const options = target(context, request.queue);
  const { select } = request;
  const filter =
    select.kind === "messages"
      ? selectionFilter(select.messages)
      : select.kind === "group"
        ? groupFilter(select)
        : undefined;
  const result = await context.exclusive(() =>
    replayDeadLetters({
      ...options,
      dryRun: request.dryRun,
      ...(filter === undefined ? {} : { filter }),
      ...(select.kind === "messages" ? { limit: select.messages.length } : {}),
    }),
  );
  if (!request.dryRun) {
    context.log(
      `replayed ${plural(result.replayed, "message")} from "${result.deadLetterQueue}" to "${result.queue}" (${select.kind})`,
    );
  }
  return { status: 200, body: { ok: true, ...result } };
}

async function purge(context: ApiContext, raw: string): Promise<ApiResponse> {
  const request = parseBody(purgeSchema, raw);
  const options = target(context, request.queue);
  const result = await context.exclusive(() =>
    purgeDeadLetters({ ...options, yes: request.confirm }),
  );
  context.log(`purged ${plural(result.purged, "message")} from "${result.deadLetterQueue}"`);
  return { status: 200, body: { ok: true, ...result } };
}

/**
 * Answers one API request (already past the security checks). Throws
 * `WARREN_CONSOLE_BAD_REQUEST` for an unknown path or method; library errors
 * pass through to the server, which maps them to statuses.
 */
export async function handleApi(
  context: ApiContext,
  method: string,
  url: URL,
  body: string,
): Promise<ApiResponse> {
  const route = `${method} ${url.pathname}`;
  switch (route) {
    case "GET /api/info":
      return { status: 200, body: { ok: true, ...context.info } };
    case "GET /api/topology":
      return { status: 200, body: { ok: true, topology: context.topology } };
    case "GET /api/topology.svg":
      return { status: 200, body: context.svg, contentType: "image/svg+xml; charset=utf-8" };
    case "GET /api/stats":
      return { status: 200, body: { ok: true, ...context.sampler.snapshot() } };
    case "GET /api/dead-letters":
      return deadLetters(context, url.searchParams);
    case "POST /api/replay":
      return replay(context, body);
    case "POST /api/purge":
      return purge(context, body);
    default:
      throw new ConsoleError(ErrorCode.WARREN_CONSOLE_BAD_REQUEST, `no such API call: ${route}`);
  }
}
