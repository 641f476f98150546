/**
 * Where the broker is, as the CLI and the library both take it: one AMQP URL
 * (amqp or amqps, with TLS files), and a management API URL that defaults to
 * the same host. Credentials come from the URLs; they are kept apart from the
 * URLs that get printed, so output and logs only ever see masked forms.
 */
import { readFile } from "node:fs/promises";
import { ConnectionError, ErrorCode } from "../errors.ts";
import { maskUrl } from "./url.ts";

/** TLS material for amqps and https, given as file paths. */
export interface TlsFiles {
  /** PEM file with the CA certificate(s) that signed the broker's certificate. */
  caFile?: string;
  /** PEM client certificate, for brokers that require mutual TLS. */
  certFile?: string;
  /** PEM private key of the client certificate. */
  keyFile?: string;
  /** Host name to verify the broker's certificate against, when it differs from the URL's. */
  servername?: string;
}

/** Options naming the broker, shared by `planTopology`'s callers, `applyTopology` and the CLI. */
export interface BrokerEndpointOptions {
  /** AMQP URL, `amqp://user:pass@host:5672/vhost` or `amqps://...`. */
  url: string;
  /**
   * Management API URL, e.g. `http://user:pass@host:15672`.
   * @default same host and credentials as `url`; port 15672 over http, 15671 over https when `url` is amqps
   */
  managementUrl?: string;
  tls?: TlsFiles;
  /**
   * Timeout of each management API request and of the AMQP connect, in milliseconds.
   * @default 10000
   */
  timeoutMs?: number;
}

/** TLS material read from {@link TlsFiles}. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
}

/** A resolved endpoint: validated URLs, credentials apart, TLS files read. */
export interface ResolvedEndpoint {
  /** The AMQP URL as given (contains the password: never print it, use {@link maskUrl}). */
  amqpUrl: string;
  /** The vhost named by the AMQP URL's path, if it names one. */
  urlVhost: string | undefined;
  /** Management API base URL without credentials (safe to print). */
  managementUrl: string;
  managementUsername: string;
  managementPassword: string;
  /** The AMQP user (the one given permissions on a vhost warren creates). */
  amqpUsername: string;
  tls: TlsMaterial;
  timeoutMs: number;
}

export const endpointDefaults = Object.freeze({
  /** AMQP URL when none is given. */
  url: "amqp://guest:guest@localhost:5672",
  /** Request timeout in milliseconds. */
  timeoutMs: 10_000,
  /** Management API port over http. */
  managementPort: 15672,
  /** Management API port over https. */
  managementTlsPort: 15671,
});

function parseUrl(url: string, what: string, protocols: readonly string[]): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConnectionError(
      ErrorCode.WARREN_URL_INVALID,
      `${what} ${maskUrl(url)} is not a valid URL; expected ${protocols.map((p) => `${p}//host`).join(" or ")}`,
    );
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConnectionError(
      ErrorCode.WARREN_URL_INVALID,
      `${what} ${maskUrl(url)} has protocol "${parsed.protocol}"; expected ${protocols.join(" or ")}`,
    );
  }
  return parsed;
}

async function readTls(files: TlsFiles | undefined): Promise<TlsMaterial> {
  const tls: TlsMaterial = {};
  if (files === undefined) return tls;
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path);
    } catch (error) {
      throw new ConnectionError(
        ErrorCode.WARREN_TLS_FILE_UNREADABLE,
        `cannot read the TLS ${what} file ${path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  };
  if (files.caFile !== undefined) tls.ca = await read(files.caFile, "CA");
  if (files.certFile !== undefined) tls.cert = await read(files.certFile, "certificate");
  if (files.keyFile !== undefined) tls.key = await read(files.keyFile, "key");
  if (files.servername !== undefined) tls.servername = files.servername;
  return tls;
}

/**
 * Validates the URLs, derives the management URL when none is given, and
 * reads the TLS files. Throws `ConnectionError` `WARREN_URL_INVALID` or
 * `WARREN_TLS_FILE_UNREADABLE`.
 */
export async function resolveEndpoint(options: BrokerEndpointOptions): Promise<ResolvedEndpoint> {
  const amqp = parseUrl(options.url, "broker URL", ["amqp:", "amqps:"]);
  const amqpUsername = amqp.username === "" ? "guest" : decodeURIComponent(amqp.username);
  const amqpPassword = amqp.password === "" ? "guest" : decodeURIComponent(amqp.password);

  let management: URL;
  if (options.managementUrl === undefined) {
    const https = amqp.protocol === "amqps:";
    management = new URL(`${https ? "https" : "http"}://localhost`);
    management.hostname = amqp.hostname;
    management.port = String(
      https ? endpointDefaults.managementTlsPort : endpointDefaults.managementPort,
    );
  } else {
    management = parseUrl(options.managementUrl, "management URL", ["http:", "https:"]);
  }
  const managementUsername =
    management.username === "" ? amqpUsername : decodeURIComponent(management.username);
  const managementPassword =
    management.password === "" ? amqpPassword : decodeURIComponent(management.password);
  management.username = "";
  management.password = "";
  management.search = "";
  management.hash = "";

  const path = amqp.pathname.replace(/^\//, "");
  return {
    amqpUrl: options.url,
    urlVhost: path === "" ? undefined : decodeURIComponent(path),
    managementUrl: management.toString().replace(/\/+$/, ""),
    managementUsername,
    managementPassword,
    amqpUsername,
    tls: await readTls(options.tls),
    timeoutMs: options.timeoutMs ?? endpointDefaults.timeoutMs,
  };
}
