/**
 * A small HTTP endpoint for orchestrators and Prometheus (docs/architecture.md#metrics-and-health):
 *
 * - `GET /healthz`: 200 while the process runs (liveness);
 * - `GET /readyz`: 200 when `ready()` says so (connected and consuming),
 *   503 otherwise, with the reasons in the JSON body;
 * - `GET /metrics`: the caller's prom-client registry in text format.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { z } from "zod";
import { fn, integer, nonEmptyString, opaque, resolveOptions } from "../options.ts";

/** Answer of a readiness check. */
export interface Readiness {
  ready: boolean;
  /** Why not ready (empty when ready). */
  reasons: string[];
  /**
   * Each part by name (`publisher`, `consumer:<queue>`, ...) with its own
   * verdict, so a failing probe says which part is down.
   */
  checks?: ReadinessCheck[];
  /**
   * Consumers that take no messages on purpose (a tripped kill switch, a
   * probe, an operator's pause): worth a look, but not a reason to restart
   * the process, so they leave `ready` true. Omitted when empty.
   */
  degraded?: string[];
}

/** The readiness of one named part of a process. */
export interface ReadinessCheck {
  name: string;
  ready: boolean;
  /** Why not ready; absent when ready. */
  reason?: string;
  /**
   * Why a part that is still ready takes no work on purpose (a paused
   * consumer, a tripped kill switch); absent otherwise.
   */
  degraded?: string;
}

/**
 * A {@link ReadinessCheck}: ready unless `problem` says why not; `degraded`
 * notes a ready part held on purpose.
 */
export function readinessCheck(
  name: string,
  problem: string | undefined,
  degraded?: string,
): ReadinessCheck {
  if (problem !== undefined) return { name, ready: false, reason: problem };
  return degraded === undefined ? { name, ready: true } : { name, ready: true, degraded };
}

export interface HealthServerOptions {
  /** Registry served at /metrics. */
  registry: Registry;
  /** Readiness check; typically `() => warren.readiness()`. */
  readiness: () => Readiness;
  /**
   * Port to listen on; 0 picks a free one.
   * @default 9464
   */
  port?: number;
  /**
   * Interface to bind. The default keeps a library's metrics off the
   * network unless asked; in a container, Kubernetes probes and Prometheus
   * reach the pod's IP, not its loopback, so set `"0.0.0.0"` (or `"::"`)
   * there, as `warren worker` does. See docs/operations.md.
   * @default "127.0.0.1"
   */
  host?: string;
}

export interface HealthServer {
  /** Base URL, e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Defaults of {@link HealthServerOptions}. */
export const healthServerDefaults = Object.freeze({
  /** TCP port; 0 picks a free one. @default 9464 */
  port: 9464,
  /** Interface to bind. @default "127.0.0.1" */
  host: "127.0.0.1",
});

const healthSchema = z.object({
  registry: opaque<Registry>().refine((registry) => typeof registry?.metrics === "function", {
    error: "a prom-client Registry",
  }),
  readiness: fn<() => Readiness>(),
  port: integer(0, 65_535).default(healthServerDefaults.port),
  host: nonEmptyString().default(healthServerDefaults.host),
});

/** Starts the health and metrics endpoint. */
export async function serveHealth(input: HealthServerOptions): Promise<HealthServer> {
  const options = resolveOptions(healthSchema, input, { context: "serveHealth()" });
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const reply = (status: number, type: string, body: string) => {
      response.writeHead(status, { "content-type": type }).end(body);
    };
    if (request.method !== "GET") return reply(405, "text/plain", "method not allowed\n");
    if (path === "/healthz") return reply(200, "application/json", '{"status":"ok"}\n');
    if (path === "/readyz") {
      const readiness = options.readiness();
      return reply(
        readiness.ready ? 200 : 503,
        "application/json",
        `${JSON.stringify(readiness)}\n`,
      );
    }
    if (path === "/metrics") {
      options.registry.metrics().then(
        (text) => reply(200, options.registry.contentType, text),
        (error: unknown) => reply(500, "text/plain", `metrics failed: ${String(error)}\n`),
      );
      return;
    }
    reply(404, "text/plain", "not found: try /healthz, /readyz or /metrics\n");
  });
  const host = options.host;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  // A wildcard bind is reachable on loopback; a URL must name an address.
  const shown =
    host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
