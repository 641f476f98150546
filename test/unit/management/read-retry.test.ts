/**
 * The management client asks a read again after a 500 or 503 (the broker's
 * management API answered 500 for a moment after a vhost was created), and
 * never repeats a write. The "broker" here is a local HTTP server that
 * answers as told: the transient 500 cannot be produced on demand by a real
 * one.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ManagementClient } from "../../../src/management/client.ts";

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** Serves `statuses` in turn (the last one from then on); returns the requests seen. */
async function serve(statuses: number[]): Promise<{ client: ManagementClient; seen: string[] }> {
  const seen: string[] = [];
  server = createServer((request, response) => {
    seen.push(`${request.method} ${request.url}`);
    const status = statuses[Math.min(seen.length - 1, statuses.length - 1)] ?? 200;
    response.writeHead(status, { "content-type": "application/json" });
    response.end(status === 200 || status === 204 ? "[]" : "");
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const client = new ManagementClient({
    url: `http://127.0.0.1:${port}`,
    username: "u",
    password: "p",
  });
  return { client, seen };
}

describe("ManagementClient reads", () => {
  it("asks a GET again after a 500 and returns the answer that follows", async () => {
    const { client, seen } = await serve([500, 200]);
    expect(await client.listQueues("v")).toEqual([]);
    expect(seen).toEqual(["GET /api/queues/v", "GET /api/queues/v"]);
  });

  it("gives up after two more tries, with the status in the error", async () => {
    const { client, seen } = await serve([503]);
    await expect(client.listExchanges("v")).rejects.toMatchObject({
      code: "WARREN_MANAGEMENT_REQUEST_FAILED",
      message: expect.stringContaining("failed with 503"),
    });
    expect(seen).toHaveLength(3);
  });

  it("never repeats a write, and takes a 404 as the answer", async () => {
    const write = await serve([500]);
    await expect(write.client.createVhost("v")).rejects.toThrow(/failed with 500/);
    expect(write.seen).toEqual(["PUT /api/vhosts/v"]);
    await new Promise((resolve) => server?.close(resolve));
    const read = await serve([404]);
    expect(await read.client.getQueue("v", "q")).toBeUndefined();
    expect(read.seen).toHaveLength(1);
  });
});
