/**
 * Is a Docker engine answering? testcontainers itself would find out, but
 * slowly and noisily when there is none; this probe asks the engine's
 * `/_ping` with a short timeout, on `DOCKER_HOST` or the usual sockets.
 */
import { existsSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";

/** Where a Docker engine was looked for, and what answered. */
export interface DockerProbe {
  available: boolean;
  /** Human-readable: where it answered, or where it was looked for. */
  detail: string;
}

/** Looks for a Docker engine that answers within `timeoutMs` (per endpoint). */
export async function probeDocker(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<DockerProbe> {
  const host = env.DOCKER_HOST;
  if (host !== undefined && host !== "") {
    const ok = await pingDockerHost(host, env.DOCKER_TLS_VERIFY === "1", timeoutMs);
    return { available: ok, detail: `DOCKER_HOST=${host} ${ok ? "answered" : "did not answer"}` };
  }
  const sockets = candidateSockets(env).filter((path) => existsSync(path));
  for (const socketPath of sockets) {
    if (await ping({ socketPath }, timeoutMs)) {
      return { available: true, detail: `Docker engine at ${socketPath}` };
    }
  }
  return {
    available: false,
    detail:
      sockets.length === 0
        ? "no Docker socket found (DOCKER_HOST unset, no /var/run/docker.sock)"
        : `no Docker engine answered at ${sockets.join(", ")}`,
  };
}

function candidateSockets(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? homedir();
  const paths = [
    "/var/run/docker.sock",
    join(home, ".docker", "run", "docker.sock"),
    join(home, ".docker", "desktop", "docker.sock"),
  ];
  if (env.XDG_RUNTIME_DIR) paths.push(join(env.XDG_RUNTIME_DIR, "docker.sock"));
  return paths;
}

async function pingDockerHost(host: string, tls: boolean, timeoutMs: number): Promise<boolean> {
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    return false;
  }
  if (url.protocol === "unix:") return ping({ socketPath: url.pathname }, timeoutMs);
  if (url.protocol !== "tcp:") return false;
  const port = Number(url.port || (tls ? 2376 : 2375));
  // A TLS engine needs client certificates to talk to; an open port is
  // enough of a sign, and testcontainers reads the same variables.
  if (tls) return canConnect(url.hostname, port, timeoutMs);
  return ping({ host: url.hostname, port }, timeoutMs);
}

function ping(
  target: { socketPath: string } | { host: string; port: number },
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ ...target, path: "/_ping", method: "GET", timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(false));
    req.end();
  });
}

/** True when a TCP connection to host:port opens within `timeoutMs`. */
export function canConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
