/**
 * TLS in front of the run's plain broker, for tests of the TLS flags: a
 * throwaway CA (openssl), a server certificate for a name that is not the
 * URL's host (so `--servername` matters), a client certificate (mutual TLS:
 * `--cert` and `--key` matter), and a local TLS listener that requires that
 * client certificate and pipes each connection to the broker's AMQP port.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect as netConnect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:tls";

/** The name on the server certificate. */
export const TLS_SERVER_NAME = "broker.warren.test";

export interface TlsProxy {
  /** `amqps://` URL of `amqpUrl`'s broker (same credentials and vhost) through the proxy. */
  url: string;
  /** PEM files. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** TLS connections the proxy accepted (handshake and client certificate verified). */
  readonly accepted: number;
  close(): Promise<void>;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
}

/** Starts the proxy on a free port of 127.0.0.1 in front of `amqpUrl`'s host and port. */
export async function startTlsProxy(amqpUrl: string): Promise<TlsProxy> {
  const dir = await mkdtemp(join(tmpdir(), "warren-tls-"));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const days = ["-days", "1"];
  openssl(
    dir,
    ["req", "-x509", ...ec, ...days, "-keyout", "ca.key", "-out", "ca.pem"].concat([
      "-subj",
      "/CN=warren test CA",
    ]),
  );
  const issued = [
    ["server", `/CN=${TLS_SERVER_NAME}`, `subjectAltName=DNS:${TLS_SERVER_NAME}`],
    ["client", "/CN=warren test client", "extendedKeyUsage=clientAuth"],
  ] as const;
  for (const [name, subject, extension] of issued) {
    await writeFile(join(dir, `${name}.ext`), `${extension}\n`);
    openssl(dir, ["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject]);
    const sign = ["-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", ...days];
    openssl(
      dir,
      ["x509", "-req", "-in", `${name}.csr`, ...sign, "-out", `${name}.pem`].concat([
        "-extfile",
        `${name}.ext`,
      ]),
    );
  }
  const [ca, cert, key] = await Promise.all(
    ["ca.pem", "server.pem", "server.key"].map((file) => readFile(join(dir, file))),
  );
  const target = new URL(amqpUrl);
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer(
    { ca, cert, key, requestCert: true, rejectUnauthorized: true },
    (client) => {
      accepted++;
      const upstream = netConnect(Number(target.port || 5672), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("error", () => socket.destroy());
        socket.on("close", () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    },
  );
  server.on("tlsClientError", () => {
    // A client without a valid certificate: refused, nothing to do.
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(amqpUrl);
  url.protocol = "amqps:";
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return {
    url: url.href,
    caFile: join(dir, "ca.pem"),
    certFile: join(dir, "client.pem"),
    keyFile: join(dir, "client.key"),
    get accepted() {
      return accepted;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
