/**
 * Calls to the RabbitMQ management HTTP API from a URL that may carry
 * credentials (`http://guest:guest@host:15672`). `fetch` refuses URLs with
 * credentials, so they move into a Basic `Authorization` header.
 */

/** Options for {@link managementRequest}. */
export interface ManagementRequestInit extends RequestInit {
  /**
   * Aborts the request after this long.
   * @default 5000
   */
  timeoutMs?: number;
}

/**
 * Sends `path` (e.g. `/api/overview`) to the management API at
 * `managementUrl`, authenticating with the URL's credentials
 * (guest/guest when it has none). Returns the raw response.
 */
export async function managementRequest(
  managementUrl: string,
  path: string,
  init: ManagementRequestInit = {},
): Promise<Response> {
  const { timeoutMs = 5_000, ...rest } = init;
  const base = new URL(managementUrl);
  const user = decodeURIComponent(base.username || "guest");
  const password = decodeURIComponent(base.password || "guest");
  base.username = "";
  base.password = "";
  const target = new URL(path.replace(/^\//, ""), base.href.endsWith("/") ? base : `${base}/`);
  const headers = new Headers(rest.headers);
  headers.set("authorization", `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`);
  if (rest.body !== undefined && !headers.has("content-type")) {
    headers.set("content-type", "application/json");
  }
  return fetch(target, { ...rest, headers, signal: rest.signal ?? AbortSignal.timeout(timeoutMs) });
}

/**
 * The management URL that belongs to an AMQP URL: same host and
 * credentials, port 15672 (15671 for `amqps`).
 */
export function managementUrlFor(amqpUrl: string): string {
  const amqp = new URL(amqpUrl);
  const secure = amqp.protocol === "amqps:";
  const http = new URL(`${secure ? "https" : "http"}://${amqp.host}`);
  http.port = secure ? "15671" : "15672";
  http.username = amqp.username || "guest";
  http.password = amqp.password || "guest";
  return http.href.replace(/\/$/, "");
}
