import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import type { GetMessage } from "amqplib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createHarness,
  type Harness,
  waitFor,
  workTopology,
} from "../integration/consumer/harness.ts";

// A handler that kills its process on one message must not take the service
// down forever: each crash returns the message to the quorum queue, the
// broker counts the returns, and past `deliveryLimit` it dead-letters the
// message into Q.dlq by the queue's own x-dead-letter arguments.
const fixture = join(import.meta.dirname, "fixtures/crashing-consumer.ts");

let h: Harness;
let child: ChildProcess | undefined;
beforeEach(async () => {
  h = await createHarness((vhost) => workTopology(vhost, { deliveryLimit: 2 }));
});
afterEach(async () => {
  if (child?.exitCode === null) child.kill("SIGKILL");
  await h.close();
});

function run(): { exited: Promise<number | null> } {
  child = spawn(process.execPath, [fixture], {
    env: {
      ...process.env,
      WARREN_URL: h.url,
      WARREN_TOPOLOGY: JSON.stringify(h.topology),
      WARREN_QUEUE: "work",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child?.once("exit", resolve));
  return { exited };
}

describe("crash loops", () => {
  it("ends in Q.dlq through the quorum delivery limit when the handler kills its process", async () => {
    await h.publish("events", "job.created", { crash: true }, { messageId: "poison" });
    const exitCodes: (number | null)[] = [];
    for (let spawned = 0; spawned < 6 && (await h.depth("work.dlq")) === 0; spawned++) {
      const { exited } = run();
      const outcome = await Promise.race([
        exited,
        waitFor(async () => (await h.depth("work.dlq")) > 0, 45_000, "the dead letter").then(
          () => "dead-lettered" as const,
        ),
      ]);
      if (outcome === "dead-lettered") break;
      exitCodes.push(outcome);
    }
    // deliveryLimit 2: delivered 3 times (3 crashes), dead-lettered on the 3rd return.
    expect(exitCodes).toEqual([70, 70, 70]);
    const [dead] = await h.collect("work.dlq", 1);
    const message = dead as GetMessage;
    expect(message.properties.messageId).toBe("poison");
    const headers = message.properties.headers ?? {};
    expect(headers["x-first-death-reason"]).toBe("delivery_limit");
    expect(headers["x-first-death-queue"]).toBe("work");
    expect(headers["x-death"]).toMatchObject([
      { queue: "work", reason: "delivery_limit", count: 1, exchange: "events" },
    ]);
    // The broker dead-letters it as is: no warren failure headers.
    expect(headers["warren-reason"]).toBeUndefined();
    expect(headers["x-first-death-exchange"]).toBe("events");
    expect(await h.depth("work")).toBe(0);
  });
});
