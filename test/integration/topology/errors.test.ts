import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { management as managementApi } from "../../support/broker.ts";
import {
  amqpUrl,
  freshVhost,
  managementBase,
  ordersFile,
  randomName,
  runCli,
  urlFor,
} from "./helpers.ts";

/** The run's broker URL, credentials and all, on a port where nothing listens. */
function unreachable(url: string): string {
  const parsed = new URL(url);
  parsed.hostname = "127.0.0.1";
  parsed.port = "1";
  return parsed.toString();
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "warren-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("bad input and credentials", () => {
  it("exits 1 with the file's problem and no stack trace for an invalid file", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(
      file,
      "exchanges:\n  orders: { type: topic }\nqueues:\n  q:\n    bindings: [{ exchange: order }]\n",
    );
    for (const command of ["validate", "plan", "apply"]) {
      const run = await runCli(["topology", command, file]);
      expect(run.code, command).toBe(1);
      expect(run.stderr).toContain('exchange "order"');
      expect(run.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("exits 1 with one line when the broker is unreachable", async () => {
    const run = await runCli([
      "topology",
      "plan",
      ordersFile,
      "--url",
      unreachable(amqpUrl),
      "--management-url",
      "http://127.0.0.1:1",
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("unreachable");
  });

  it("never prints a password, whether the credentials work or not", async () => {
    const user = randomName("warren-user");
    const password = `pw-${randomName("secret")}`;
    const { vhost, remove } = await freshVhost();
    const put = (path: string, body: unknown) =>
      managementApi(path, { method: "PUT", body: JSON.stringify(body) });
    await put(`/api/users/${user}`, { password, tags: "administrator" });
    await put(`/api/permissions/${encodeURIComponent(vhost)}/${user}`, {
      configure: ".*",
      write: ".*",
      read: ".*",
    });
    try {
      const url = new URL(urlFor(vhost));
      url.username = user;
      url.password = password;
      const runs = [
        await runCli([
          "topology",
          "apply",
          ordersFile,
          "--url",
          url.toString(),
          "--management-url",
          managementBase,
        ]),
        await runCli([
          "topology",
          "plan",
          ordersFile,
          "--url",
          url.toString(),
          "--management-url",
          managementBase,
          "--json",
        ]),
        await runCli(["topology", "plan", ordersFile], {
          RABBITMQ_URL: url.toString(),
          RABBITMQ_MANAGEMENT_URL: managementBase,
        }),
      ];
      url.password = `${password}-wrong`;
      runs.push(
        await runCli([
          "topology",
          "apply",
          ordersFile,
          "--url",
          url.toString(),
          "--management-url",
          managementBase,
        ]),
      );
      runs.push(
        await runCli([
          "topology",
          "plan",
          ordersFile,
          "--url",
          url.toString(),
          "--management-url",
          managementBase,
          "--json",
        ]),
      );
      expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 1, 1]);
      for (const run of runs) {
        expect(run.stdout + run.stderr).not.toContain(password);
      }
      expect(runs[3]!.stderr).toContain("refused");
    } finally {
      await managementApi(`/api/users/${user}`, { method: "DELETE" });
      await remove();
    }
  });
});
