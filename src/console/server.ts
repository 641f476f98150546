/**
 * `startConsole`: the web console's HTTP server on node:http. It serves the
 * page's three static files (shipped in the package next to this module,
 * under `assets/`) and the JSON API of api.ts, behind the checks of
 * security.ts, and samples queue figures from the management API while it
 * runs.
 *
 * Passwords stay on the server: the page gets the broker's `host:port` and
 * the management URL without credentials, and every answer is passed through
 * the same password mask as the CLI's output.
 */
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { type BrokerEndpointOptions, resolveEndpoint } from "../connection/endpoint.ts";
import { brokerEndpointSchema } from "../connection/endpoint-options.ts";
import { maskSecrets } from "../connection/url.ts";
import { DeadLetterError } from "../dlq/errors.ts";
import { ConnectionError, ErrorCode, WarrenError } from "../errors.ts";
import { ManagementClient } from "../management/client.ts";
import { fn, integer, nonEmptyString, opaque, resolveOptions } from "../options.ts";
import type { CompiledTopology } from "../topology/model.ts";
import { type ApiContext, handleApi } from "./api.ts";
import { ConsoleError } from "./errors.ts";
import { type ConsoleTopology, consoleTopologyFromCompiled, discoverTopology } from "./model.ts";
import { allowedHosts, checkApiRequest, checkHost, randomToken } from "./security.ts";
import { QueueStatsSampler } from "./stats.ts";
import { renderTopologySvg } from "./svg.ts";

/** Defaults of {@link startConsole}. */
export const consoleDefaults = Object.freeze({
  /**
   * Address to listen on: loopback only, so nobody else on the network reaches the page.
   * @default "127.0.0.1"
   */
  host: "127.0.0.1",
  /**
   * Port to listen on; 0 picks a free one.
   * @default 8080
   */
  port: 8080,
  /**
   * Time between two samples of the management API, in milliseconds.
   * @default 5000
   */
  refreshMs: 5_000,
  /**
   * How far back the rate chart goes, in milliseconds.
   * @default 600000 (10 minutes)
   */
  historyMs: 600_000,
});

/** Options of {@link startConsole}: the broker endpoint plus the console's own. */
export interface ConsoleOptions extends BrokerEndpointOptions {
  /** The compiled topology to show; without it, work queues are found on the broker by name. */
  topology?: CompiledTopology;
  /** @default the vhost in `url`'s path, else the topology's, else `/` */
  vhost?: string;
  /** @default "127.0.0.1" */
  host?: string;
  /** @default 8080; 0 picks a free port */
  port?: number;
  /** Sample interval in milliseconds. @default 5000 */
  refreshMs?: number;
  /** Chart history in milliseconds. @default 600000 */
  historyMs?: number;
  /** The token actions must carry. @default 32 random bytes, base64url */
  token?: string;
  /** Receives one line per action (replay, purge). @default nothing is logged */
  log?: (line: string) => void;
}

/** A running console. */
export interface ConsoleServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The URL to open: the base URL with the token in its fragment (never sent to a server). */
  pageUrl: string;
  token: string;
  host: string;
  port: number;
  topology: ConsoleTopology;
  /** Why the last read of the management API failed, if it did (passwords masked). */
  sampleError(): string | undefined;
  /** Stops sampling and closes the server. */
  close(): Promise<void>;
}

/** The checks of {@link ConsoleOptions}: the endpoint's, plus the console's own. */
const consoleOptionsSchema = brokerEndpointSchema.extend({
  topology: opaque<CompiledTopology>().optional(),
  vhost: nonEmptyString().optional(),
  host: nonEmptyString().default(consoleDefaults.host),
  port: integer(0, 65_535).default(consoleDefaults.port),
  refreshMs: integer(500).default(consoleDefaults.refreshMs),
  historyMs: integer(1_000).default(consoleDefaults.historyMs),
  token: z
    .string({ error: "a string of at least 16 characters" })
    .min(16, {
      error: "a string of at least 16 characters",
    })
    .optional(),
  log: fn<(line: string) => void>().optional(),
});

const ASSETS = { "/": "index.html", "/console.css": "console.css", "/console.js": "console.js" };
const TYPES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "console.css": "text/css; charset=utf-8",
  "console.js": "text/javascript; charset=utf-8",
};
const MAX_BODY_BYTES = 64 * 1024;

/** Headers on every answer: no framing, no sniffing, no inline script, nothing cached. */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

async function loadAssets(): Promise<Map<string, Buffer>> {
  const assets = new Map<string, Buffer>();
  for (const file of Object.values(ASSETS)) {
    const url = new URL(`./assets/${file}`, import.meta.url);
    try {
      assets.set(file, await readFile(url));
    } catch (error) {
      throw new ConsoleError(
        ErrorCode.WARREN_CONSOLE_ASSETS_MISSING,
        `the console page file ${url.pathname} is missing (${(error as Error).message}): reinstall warren, or run \`npm run build\` in a checkout`,
        { cause: error },
      );
    }
  }
  return assets;
}

function statusOf(error: unknown): number {
  if (error instanceof WarrenError && error.code === ErrorCode.WARREN_INVALID_OPTIONS) return 400;
  if (error instanceof ConsoleError) {
    if (error.code === ErrorCode.WARREN_CONSOLE_FORBIDDEN) return 403;
    if (error.code === ErrorCode.WARREN_CONSOLE_UNKNOWN_QUEUE) return 404;
    return 400;
  }
  if (error instanceof DeadLetterError) {
    if (
      error.code === ErrorCode.WARREN_DLQ_NOT_FOUND ||
      error.code === ErrorCode.WARREN_DLQ_TARGET_MISSING
    ) {
      return 404;
    }
    if (error.code === ErrorCode.WARREN_DLQ_REPLAY_FAILED) return 500;
    return 400;
  }
  if (error instanceof ConnectionError) return 502;
  return 500;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(
          new ConsoleError(
            ErrorCode.WARREN_CONSOLE_BAD_REQUEST,
            `request body over ${MAX_BODY_BYTES} bytes`,
          ),
        );
        request.destroy();
      } else {
        chunks.push(chunk);
      }
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

/**
 * Starts the console: resolves the endpoint, reads the topology (from
 * `options.topology`, else from the broker), takes a first sample, and
 * listens. Throws `ConsoleError` `WARREN_INVALID_OPTIONS` (naming the
 * option) or `WARREN_CONSOLE_LISTEN_FAILED`, and the endpoint and management errors of
 * `resolveEndpoint` and the management client (`WARREN_URL_INVALID`,
 * `WARREN_MANAGEMENT_*`).
 */
export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const own = resolveOptions(consoleOptionsSchema, options, {
    context: "startConsole()",
    errorClass: ConsoleError,
  });
  const token = own.token ?? randomToken();
  const log = own.log ?? (() => {});
  // The endpoint options as given (checked above), passed on unchanged.
  const endpointOptions: BrokerEndpointOptions = { url: options.url };
  if (options.managementUrl !== undefined) endpointOptions.managementUrl = options.managementUrl;
  if (options.tls !== undefined) endpointOptions.tls = options.tls;
  if (options.timeoutMs !== undefined) endpointOptions.timeoutMs = options.timeoutMs;
  // `flat()`: the endpoint may name several nodes; every password is masked.
  const secretUrls = [own.url, own.managementUrl]
    .flat()
    .filter((u): u is string => u !== undefined);
  const mask = (text: string) => maskSecrets(text, secretUrls);

  const assets = await loadAssets();
  const endpoint = await resolveEndpoint(endpointOptions);
  const management = ManagementClient.fromEndpoint(endpoint);
  const vhost = own.vhost ?? endpoint.urlVhost ?? own.topology?.vhost ?? "/";
  const topology =
    own.topology === undefined
      ? await discoverTopology(management, vhost)
      : { ...consoleTopologyFromCompiled(own.topology), vhost };
  const sampler = new QueueStatsSampler(topology, () => management.listQueues(vhost), {
    intervalMs: own.refreshMs,
    historyMs: own.historyMs,
    describeError: (error) => mask(error instanceof Error ? error.message : String(error)),
  });

  let queue: Promise<unknown> = Promise.resolve();
  const context: ApiContext = {
    topology,
    info: {
      vhost,
      broker: new URL(endpoint.amqpUrl).host,
      managementUrl: endpoint.managementUrl,
      source: topology.source,
    },
    endpoint: endpointOptions,
    sampler,
    svg: renderTopologySvg(topology),
    exclusive: <T>(run: () => Promise<T>): Promise<T> => {
      const next = queue.then(run, run);
      queue = next.catch(() => {});
      return next;
    },
    log,
  };

  let hosts: string[] = [];
  const send = (response: ServerResponse, status: number, type: string, body: string | Buffer) => {
    response.writeHead(status, { ...SECURITY_HEADERS, "content-type": type });
    response.end(body);
  };
  const sendJson = (response: ServerResponse, status: number, value: unknown) =>
    send(response, status, "application/json; charset=utf-8", mask(JSON.stringify(value)));

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://console.invalid");
    try {
      checkHost(request, hosts);
      const asset = ASSETS[url.pathname as keyof typeof ASSETS];
      if (request.method === "GET" && asset !== undefined) {
        send(response, 200, TYPES[asset]!, assets.get(asset)!);
        return;
      }
      if (url.pathname === "/favicon.ico") {
        response.writeHead(204, SECURITY_HEADERS).end();
        return;
      }
      if (!url.pathname.startsWith("/api/")) {
        send(response, 404, "text/plain; charset=utf-8", "not found\n");
        return;
      }
      const action = request.method !== "GET";
      checkApiRequest(request, token, action);
      const body = action ? await readBody(request) : "";
      const answer = await handleApi(context, request.method ?? "GET", url, body);
      if (answer.contentType !== undefined) {
        send(response, answer.status, answer.contentType, String(answer.body));
      } else {
        sendJson(response, answer.status, answer.body);
      }
    } catch (error) {
      const code = error instanceof WarrenError ? error.code : ErrorCode.WARREN_UNEXPECTED;
      const message = error instanceof Error ? error.message : String(error);
      const progress = error instanceof DeadLetterError ? error.progress : undefined;
      if (!response.headersSent) {
        sendJson(response, statusOf(error), {
          ok: false,
          error: { code, message, ...(progress === undefined ? {} : { progress }) },
        });
      }
    }
  });

  await sampler.start();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(own.port, own.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (error) {
    sampler.stop();
    throw new ConsoleError(
      ErrorCode.WARREN_CONSOLE_LISTEN_FAILED,
      `cannot listen on ${own.host}:${own.port} (${(error as Error).message}): pick another --port or --host`,
      { cause: error },
    );
  }
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(own.host, port);
  const shownHost = own.host === "0.0.0.0" ? "127.0.0.1" : own.host === "::" ? "::1" : own.host;
  const base = `http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${port}`;
  return {
    url: base,
    pageUrl: `${base}/#token=${token}`,
    token,
    host: own.host,
    port,
    topology,
    sampleError: () => sampler.snapshot().error,
    close: async () => {
      sampler.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
