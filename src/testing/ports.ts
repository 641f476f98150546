/**
 * Free TCP ports for throwaway servers.
 *
 * A port is picked at random below the kernel's ephemeral range, checked by
 * binding it, released, and handed to the server. Ports the kernel hands out
 * itself (bind to port 0) come from the ephemeral range, and so does the
 * local port of every outgoing connection. In a CI run where a three-node
 * cluster booted beside a one-node broker, a port handed out that way was
 * taken by some other socket before the broker bound it, and the broker's
 * boot failed with `eaddrinuse`. Below the range, only another listener
 * picking the same number at the same moment can take it.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Where random picks start; the top is the start of the ephemeral range. */
const LOWEST_PORT = 20_000;
const PICKS = 50;

/** The first port of the kernel's ephemeral range (Linux), 32768 when it cannot be read. */
function ephemeralStart(): number {
  try {
    const first = Number(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0],
    );
    return Number.isInteger(first) && first > LOWEST_PORT + 1_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

/** Binds `port` on 127.0.0.1 and releases it; resolves the port it got (0 asks the kernel). */
function bindAndRelease(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(undefined));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(bound > 0 ? bound : undefined));
    });
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago, below the ephemeral range when one is. */
export async function freePort(): Promise<number> {
  const top = ephemeralStart();
  for (let pick = 0; pick < PICKS; pick++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (top - LOWEST_PORT));
    if ((await bindAndRelease(port)) !== undefined) return port;
  }
  // Every pick was taken (a crowded machine): let the kernel choose.
  const port = await bindAndRelease(0);
  if (port === undefined) throw new Error("no free TCP port on 127.0.0.1");
  return port;
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}
