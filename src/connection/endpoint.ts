/**
 * Where the broker is, as the CLI and the library both take it: the AMQP URL
 * of each node (amqp or amqps, with TLS files), and the management API URL
 * of each node, which defaults to the same hosts. A cluster is given as a
 * list (or one string with commas); every caller tries the nodes in order
 * and fails over to the next one that answers. Credentials come from the
 * URLs; they are kept apart from the URLs that get printed, so output and
 * logs only ever see masked forms.
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
  /**
   * AMQP URL, `amqp://user:pass@host:5672/vhost` or `amqps://...`; for a
   * cluster, one URL per node (a list, or one string with commas), tried in
   * order.
   */
  url: string | readonly string[];
  /**
   * Management API URL, e.g. `http://user:pass@host:15672`; for a cluster,
   * one per node (a list, or one string with commas), tried in order.
   * @default for each AMQP URL, the same host and credentials; port 15672 over http, 15671 over https when it is amqps
   */
  managementUrl?: string | readonly string[];
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
  /** The first AMQP URL as given (contains the password: never print it, use {@link maskUrl}). */
  amqpUrl: string;
  /** Every node's AMQP URL as given, in the order to try them. */
  amqpUrls: readonly string[];
  /** The vhost named by the AMQP URLs' path, if they name one. */
  urlVhost: string | undefined;
  /** The first management API base URL without credentials (safe to print). */
  managementUrl: string;
  /** Every node's management API base URL without credentials, in the order to try them. */
  managementUrls: readonly string[];
  /** Management API user, from the first management URL that has one (else the AMQP user). */
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

/**
 * A URL option as a list: each entry may itself hold several URLs separated
 * by commas (`RABBITMQ_URL=amqp://a,amqp://b`); blanks are dropped.
 */
export function urlList(value: string | readonly string[]): string[] {
  const entries = typeof value === "string" ? [value] : value;
  return entries.flatMap((entry) =>
    entry
      .split(",")
      .map((url) => url.trim())
      .filter((url) => url !== ""),
  );
}

/** Every URL of the options, for masking passwords in output and errors. */
export function secretsOf(options: Pick<BrokerEndpointOptions, "url" | "managementUrl">): string[] {
  return [
    ...urlList(options.url),
    ...(options.managementUrl === undefined ? [] : urlList(options.managementUrl)),
  ];
}

function decoded(value: string, fallback: string): string {
  return value === "" ? fallback : decodeURIComponent(value);
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
 * Validates the URLs, derives the management URLs when none are given, and
 * reads the TLS files. Throws `ConnectionError` `WARREN_URL_INVALID` (a bad
 * URL, none at all, or URLs naming different vhosts) or
 * `WARREN_TLS_FILE_UNREADABLE`.
 */
export async function resolveEndpoint(options: BrokerEndpointOptions): Promise<ResolvedEndpoint> {
  const amqpUrls = urlList(options.url);
  if (amqpUrls.length === 0) {
    throw new ConnectionError(
      ErrorCode.WARREN_URL_INVALID,
      "no broker URL given; expected amqp://host or amqps://host (several separated by commas)",
    );
  }
  const amqp = amqpUrls.map((url) => parseUrl(url, "broker URL", ["amqp:", "amqps:"]));
  const first = amqp[0] as URL;
  const amqpUsername = decoded(first.username, "guest");
  const amqpPassword = decoded(first.password, "guest");

  const vhosts = new Set(amqp.map((url) => url.pathname.replace(/^\//, "")));
  if (vhosts.size > 1) {
    throw new ConnectionError(
      ErrorCode.WARREN_URL_INVALID,
      `the broker URLs name different vhosts (${[...vhosts].map((v) => JSON.stringify(decodeURIComponent(v))).join(", ")}); give every node the same vhost, or none and use --vhost`,
    );
  }

  const given = options.managementUrl === undefined ? [] : urlList(options.managementUrl);
  const management =
    given.length > 0
      ? given.map((url) => parseUrl(url, "management URL", ["http:", "https:"]))
      : amqp.map((url) => {
          const https = url.protocol === "amqps:";
          const derived = new URL(`${https ? "https" : "http"}://localhost`);
          derived.hostname = url.hostname;
          derived.port = String(
            https ? endpointDefaults.managementTlsPort : endpointDefaults.managementPort,
          );
          return derived;
        });
  const withUser = management.find((url) => url.username !== "");
  const managementUsername = withUser === undefined ? amqpUsername : decoded(withUser.username, "");
  const managementPassword = withUser === undefined ? amqpPassword : decoded(withUser.password, "");
  const managementUrls = management.map((url) => {
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    return url.toString().replace(/\/+$/, "");
  });

  const path = first.pathname.replace(/^\//, "");
  return {
    amqpUrl: amqpUrls[0] as string,
    amqpUrls,
    urlVhost: path === "" ? undefined : decodeURIComponent(path),
    managementUrl: managementUrls[0] as string,
    managementUrls,
    managementUsername,
    managementPassword,
    amqpUsername,
    tls: await readTls(options.tls),
    timeoutMs: options.timeoutMs ?? endpointDefaults.timeoutMs,
  };
}
