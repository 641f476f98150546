/**
 * A small typed client for the RabbitMQ management HTTP API: only the calls
 * warren needs (read a vhost's objects, create a vhost, import definitions). It speaks through node:http/https rather than fetch so that
 * the TLS material of an amqps broker (private CA, client certificate) applies
 * to the management API as well.
 *
 * Given several URLs (the nodes of a cluster), a request goes to the node
 * that answered last (the first one to begin with); when a node does not
 * answer (connection refused, reset, timeout) the same request goes to the
 * next one. Only a node that answers no request fails over: a refusal
 * (401, 404, 500) is the cluster's answer and is not retried elsewhere.
 * A read (GET) answered 500 or 503 is asked again, of the same node, up to
 * {@link READ_RETRIES} times {@link READ_RETRY_DELAY_MS} apart: seen in a
 * test run here, `GET /api/queues/{vhost}` answered 500 with an empty body
 * just after the vhost was created, and a read changes nothing if repeated.
 *
 * Every failure is a `ConnectionError`: `WARREN_MANAGEMENT_UNREACHABLE` (no
 * answer, or no answer in time), `WARREN_MANAGEMENT_AUTH` (credentials
 * refused) or `WARREN_MANAGEMENT_REQUEST_FAILED` (any other refusal). Messages
 * name the URL without credentials; the password never appears.
 */
import http from "node:http";
import https from "node:https";
import type { ResolvedEndpoint, TlsMaterial } from "../connection/endpoint.ts";
import { ConnectionError, ErrorCode } from "../errors.ts";

/** How many times a GET answered 500 or 503 is asked again. */
const READ_RETRIES = 2;
/** Pause before asking a GET again, in milliseconds. */
const READ_RETRY_DELAY_MS = 250;

/** AMQP table as the management API reports it (JSON-typed values). */
export type ManagementArguments = Record<string, unknown>;

/** An exchange as `GET /api/exchanges/{vhost}` reports it. */
export interface ManagementExchange {
  name: string;
  vhost: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
  arguments: ManagementArguments;
}

/** A queue as `GET /api/queues/{vhost}` reports it (fields warren reads). */
export interface ManagementQueue {
  name: string;
  vhost: string;
  /** `classic`, `quorum` or `stream`. */
  type?: string;
  durable: boolean;
  auto_delete: boolean;
  exclusive: boolean;
  arguments: ManagementArguments;
  /**
   * Every message the queue holds: ready, unacknowledged and, on a quorum
   * queue that dead-letters at least once, dead letters its target has not
   * yet accepted. Absent until the broker's first stats emission.
   */
  messages?: number;
  messages_ready?: number;
  messages_unacknowledged?: number;
  consumers?: number;
  /** Message counters and rates; absent until the queue has seen traffic. */
  message_stats?: ManagementMessageStats;
}

/**
 * Messages `queue` holds in its at-least-once dead-letter hop, waiting for
 * the target to accept them: counted in `messages`, neither ready nor
 * unacked (docs/operations.md#held-dead-letters). Undefined before the
 * broker's first statistics.
 */
export function heldDeadLetters(queue: ManagementQueue): number | undefined {
  if (queue.messages === undefined) return undefined;
  const settled = (queue.messages_ready ?? 0) + (queue.messages_unacknowledged ?? 0);
  return Math.max(0, queue.messages - settled);
}

/** A counter with its current rate, as in `message_stats` (`publish_details`, ...). */
export interface ManagementRate {
  /** Per second, over the broker's last sample interval. */
  rate: number;
  /** Per second, averaged over the management API's sample window (when asked for one). */
  avg_rate?: number;
}

/** The rates of `message_stats` warren reads. */
export interface ManagementMessageStats {
  publish_details?: ManagementRate;
  deliver_get_details?: ManagementRate;
  ack_details?: ManagementRate;
}

/** A binding as `GET /api/bindings/{vhost}` reports it. */
export interface ManagementBinding {
  source: string;
  vhost: string;
  destination: string;
  destination_type: "queue" | "exchange";
  routing_key: string;
  arguments: ManagementArguments;
  properties_key: string;
}

/** Permissions granted on a vhost. */
export interface Permissions {
  configure: string;
  write: string;
  read: string;
}

/** Options of {@link ManagementClient}. */
export interface ManagementClientOptions {
  /**
   * Base URL without credentials, e.g. `http://localhost:15672`; for a
   * cluster, one per node, tried in order.
   */
  url: string | readonly string[];
  username: string;
  password: string;
  /**
   * Per-request timeout in milliseconds.
   * @default 10000
   */
  timeoutMs?: number;
  tls?: TlsMaterial;
}

interface Response {
  status: number;
  body: string;
}

/** Encodes one path segment (a vhost `/` becomes `%2F`). */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment);
}

/** Typed access to the management HTTP API of one broker or cluster. */
export class ManagementClient {
  /** Every node's base URL, in the order they are tried. */
  readonly urls: readonly string[];
  /** Index in {@link urls} of the node that answered last. */
  #current = 0;
  readonly #username: string;
  readonly #authorization: string;
  readonly #timeoutMs: number;
  readonly #tls: TlsMaterial;

  constructor(options: ManagementClientOptions) {
    const urls = typeof options.url === "string" ? [options.url] : options.url;
    if (urls.length === 0) throw new RangeError("ManagementClient needs at least one URL");
    this.urls = urls.map((url) => url.replace(/\/+$/, ""));
    this.#username = options.username;
    this.#authorization = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString("base64")}`;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#tls = options.tls ?? {};
  }

  /** The base URL of the node that answered last (safe to print). */
  get url(): string {
    return this.urls[this.#current] as string;
  }

  /** A client for the management API of a resolved endpoint. */
  static fromEndpoint(endpoint: ResolvedEndpoint): ManagementClient {
    return new ManagementClient({
      url: endpoint.managementUrls,
      username: endpoint.managementUsername,
      password: endpoint.managementPassword,
      timeoutMs: endpoint.timeoutMs,
      tls: endpoint.tls,
    });
  }

  /** The exchange types the broker offers (`GET /api/overview`, `exchange_types`). */
  async exchangeTypes(): Promise<string[]> {
    const overview = (await this.#json("GET", "/api/overview")) as {
      exchange_types?: { name?: unknown }[];
    };
    return (overview.exchange_types ?? [])
      .map((type) => type.name)
      .filter((name): name is string => typeof name === "string");
  }

  /** True when the vhost exists. */
  async vhostExists(vhost: string): Promise<boolean> {
    const response = await this.#request("GET", `/api/vhosts/${encodeSegment(vhost)}`);
    if (response.status === 404) return false;
    this.#check("GET", `/api/vhosts/${encodeSegment(vhost)}`, response);
    return true;
  }

  /** Creates the vhost (no-op when it exists). */
  async createVhost(vhost: string): Promise<void> {
    await this.#json("PUT", `/api/vhosts/${encodeSegment(vhost)}`, {});
  }

  /** Deletes the vhost and everything in it. Used by tests; warren itself never deletes. */
  async deleteVhost(vhost: string): Promise<void> {
    const path = `/api/vhosts/${encodeSegment(vhost)}`;
    const response = await this.#request("DELETE", path);
    if (response.status !== 404) this.#check("DELETE", path, response);
  }

  /** Grants `user` permissions on `vhost`. */
  async setPermissions(vhost: string, user: string, permissions: Permissions): Promise<void> {
    await this.#json(
      "PUT",
      `/api/permissions/${encodeSegment(vhost)}/${encodeSegment(user)}`,
      permissions,
    );
  }

  async listExchanges(vhost: string): Promise<ManagementExchange[]> {
    return (await this.#json(
      "GET",
      `/api/exchanges/${encodeSegment(vhost)}`,
    )) as ManagementExchange[];
  }

  /**
   * The vhost's queues. With `rateWindowSeconds`, message rates are averaged
   * over that window (`avg_rate`, sampled every 5 s) instead of the last two
   * statistics samples, which often read 0 on a busy queue.
   */
  async listQueues(
    vhost: string,
    options: { rateWindowSeconds?: number } = {},
  ): Promise<ManagementQueue[]> {
    const window = options.rateWindowSeconds;
    const query = window === undefined ? "" : `?msg_rates_age=${window}&msg_rates_incr=5`;
    return (await this.#json(
      "GET",
      `/api/queues/${encodeSegment(vhost)}${query}`,
    )) as ManagementQueue[];
  }

  async listBindings(vhost: string): Promise<ManagementBinding[]> {
    return (await this.#json(
      "GET",
      `/api/bindings/${encodeSegment(vhost)}`,
    )) as ManagementBinding[];
  }

  /** The queue, or undefined when it does not exist. */
  async getQueue(vhost: string, queue: string): Promise<ManagementQueue | undefined> {
    const path = `/api/queues/${encodeSegment(vhost)}/${encodeSegment(queue)}`;
    const response = await this.#request("GET", path);
    if (response.status === 404) return undefined;
    this.#check("GET", path, response);
    return JSON.parse(response.body) as ManagementQueue;
  }

  /** Imports a definitions document into one vhost (`POST /api/definitions/{vhost}`). */
  async importDefinitions(vhost: string, definitions: unknown): Promise<void> {
    await this.#json("POST", `/api/definitions/${encodeSegment(vhost)}`, definitions);
  }

  async #json(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await this.#request(method, path, body);
    this.#check(method, path, response);
    return response.body === "" ? undefined : JSON.parse(response.body);
  }

  #check(method: string, path: string, response: Response): void {
    if (response.status >= 200 && response.status < 300) return;
    const where = `${this.url}${path}`;
    if (response.status === 401) {
      throw new ConnectionError(
        ErrorCode.WARREN_MANAGEMENT_AUTH,
        `management API at ${this.url} refused the credentials of user "${this.#username}" (401): check the user and password in --management-url or --url`,
      );
    }
    if (response.status === 403) {
      throw new ConnectionError(
        ErrorCode.WARREN_MANAGEMENT_AUTH,
        `management API refused ${method} ${where} for user "${this.#username}" (403): the user needs the "management" tag (or "administrator" to create vhosts) and permissions on the vhost`,
      );
    }
    let reason = response.body.slice(0, 500);
    try {
      const parsed = JSON.parse(response.body) as { reason?: unknown; error?: unknown };
      if (typeof parsed.reason === "string") reason = parsed.reason;
      else if (typeof parsed.error === "string") reason = parsed.error;
    } catch {
      // Not JSON: keep the raw (truncated) body.
    }
    throw new ConnectionError(
      ErrorCode.WARREN_MANAGEMENT_REQUEST_FAILED,
      `management API ${method} ${where} failed with ${response.status}: ${reason}`,
    );
  }

  /** Sends the request (see the module comment for what is asked again). */
  async #request(method: string, path: string, body?: unknown): Promise<Response> {
    let response = await this.#requestOnce(method, path, body);
    for (let retry = 0; retry < READ_RETRIES && method === "GET"; retry++) {
      if (response.status !== 500 && response.status !== 503) break;
      await new Promise((resolve) => setTimeout(resolve, READ_RETRY_DELAY_MS));
      response = await this.#requestOnce(method, path, body);
    }
    return response;
  }

  /** Sends the request to the nodes in turn, from the one that answered last. */
  async #requestOnce(method: string, path: string, body?: unknown): Promise<Response> {
    const failures: ConnectionError[] = [];
    for (let tried = 0; tried < this.urls.length; tried++) {
      const index = (this.#current + tried) % this.urls.length;
      try {
        const response = await this.#send(this.urls[index] as string, method, path, body);
        this.#current = index;
        return response;
      } catch (error) {
        failures.push(error as ConnectionError);
      }
    }
    if (failures.length === 1) throw failures[0];
    throw new ConnectionError(
      ErrorCode.WARREN_MANAGEMENT_UNREACHABLE,
      `no node of the management API answered ${method} ${path}:\n${failures.map((f) => `  ${f.message}`).join("\n")}`,
      { cause: failures[0] },
    );
  }

  #send(base: string, method: string, path: string, body?: unknown): Promise<Response> {
    const target = new URL(`${base}${path}`);
    // URL normalises %2F in the path; keep the encoded form the API expects.
    const requestPath = `${new URL(base).pathname.replace(/\/+$/, "")}${path}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const transport = target.protocol === "https:" ? https : http;
    const headers: Record<string, string> = {
      authorization: this.#authorization,
      accept: "application/json",
    };
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const request = transport.request(
        {
          method,
          protocol: target.protocol,
          hostname: target.hostname.replace(/^\[|\]$/g, ""),
          port: target.port === "" ? undefined : Number(target.port),
          path: requestPath,
          headers,
          timeout: this.#timeoutMs,
          ...(target.protocol === "https:" ? this.#tls : {}),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () =>
            resolve({
              status: response.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
            }),
          );
          response.on("error", (error) => reject(this.#unreachable(base, error)));
        },
      );
      request.on("timeout", () => {
        request.destroy(
          Object.assign(new Error(`no answer within ${this.#timeoutMs} ms`), { code: "ETIMEDOUT" }),
        );
      });
      request.on("error", (error) => reject(this.#unreachable(base, error)));
      request.end(payload);
    });
  }

  #unreachable(base: string, error: Error & { code?: string }): ConnectionError {
    const why = error.code === undefined ? error.message : `${error.code}: ${error.message}`;
    return new ConnectionError(
      ErrorCode.WARREN_MANAGEMENT_UNREACHABLE,
      `management API at ${base} is unreachable (${why}); is the rabbitmq_management plugin enabled? Pass --management-url if it listens elsewhere`,
      { cause: error },
    );
  }
}
