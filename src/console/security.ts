/**
 * Who may talk to the console. The page can move and delete dead letters and
 * shows message bodies, so every `/api/` request must carry the token printed
 * at start in the `x-warren-token` header. A header (not a cookie) is what
 * keeps other origins out: a page on another site cannot set it without a
 * CORS preflight, which the console never answers with an allow. On top:
 *
 * - the `Host` header must name the console's own address, so a DNS name
 *   rebound to 127.0.0.1 cannot reach it from a browser;
 * - a request that says where it comes from (`Origin`, `Sec-Fetch-Site`)
 *   must come from the console's own origin;
 * - actions must be `application/json`, which a plain HTML form cannot send.
 *
 * The static page itself (HTML, CSS, script) holds no data and needs no
 * token; it reads the token from the URL's fragment, which browsers never
 * send to a server.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { ErrorCode } from "../errors.ts";
import { ConsoleError } from "./errors.ts";

/** The header the page sends the token in. */
export const TOKEN_HEADER = "x-warren-token";

/** A fresh random token: 32 bytes, base64url. */
export function randomToken(): string {
  return randomBytes(32).toString("base64url");
}

/** `true` when `given` is the token (constant-time). */
export function tokenMatches(given: string | string[] | undefined, token: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The `Host` values that name the console listening on `host:port`. An
 * empty list means any (the console listens on every interface, where the
 * user reaches it by a name we cannot know).
 */
export function allowedHosts(host: string, port: number): string[] {
  if (host === "0.0.0.0" || host === "::") return [];
  const bracketed = host.includes(":") ? `[${host}]` : host;
  const names = [`${bracketed}:${port}`];
  if (host === "127.0.0.1" || host === "::1") names.push(`localhost:${port}`);
  return names;
}

function forbidden(message: string): ConsoleError {
  return new ConsoleError(ErrorCode.WARREN_CONSOLE_FORBIDDEN, message);
}

/** Refuses a request for another host (DNS rebinding); throws `WARREN_CONSOLE_FORBIDDEN`. */
export function checkHost(request: IncomingMessage, hosts: readonly string[]): void {
  const host = request.headers.host;
  if (hosts.length > 0 && (host === undefined || !hosts.includes(host.toLowerCase()))) {
    throw forbidden(
      `requests must be addressed to ${hosts.join(" or ")}, not "${host ?? ""}": open the URL the console printed`,
    );
  }
}

/**
 * Refuses an API request without the token or from another origin; throws
 * `WARREN_CONSOLE_FORBIDDEN`. `action` requests (POST) must also be JSON.
 */
export function checkApiRequest(request: IncomingMessage, token: string, action: boolean): void {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${request.headers.host}`) {
    throw forbidden(`cross-origin request from ${origin} refused`);
  }
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    throw forbidden(`cross-site request (${site}) refused`);
  }
  if (!tokenMatches(request.headers[TOKEN_HEADER], token)) {
    throw forbidden(
      `missing or wrong ${TOKEN_HEADER} header: open the URL the console printed at start (it carries the token)`,
    );
  }
  if (action && !/^application\/json\b/i.test(request.headers["content-type"] ?? "")) {
    throw forbidden("actions must be sent as application/json");
  }
}
