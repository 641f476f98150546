import { mkdir } from "node:fs/promises";
import http from "node:http";
import { fileURLToPath } from "node:url";
import amqp from "amqplib";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Warren } from "../../../src/client.ts";
import { NonRetryableError } from "../../../src/errors.ts";
import { applyTopology } from "../../../src/topology/apply.ts";
import { compileTopology } from "../../../src/topology/compile.ts";
import { loadTopology } from "../../../src/topology/load.ts";
import { brokerUrls, management, vhostUrl } from "../../support/broker.ts";
import { launchBrowser, type TestBrowser } from "../../support/browser.ts";
import { randomName } from "../../support/names.ts";
import {
  type ConsoleProcess,
  createUser,
  readyCount,
  startConsoleCli,
  type TestUser,
  waitFor,
} from "./helpers.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const screenshot = `${repoRoot}docs/img/console.png`;

// Markup in a dead letter's body, error message and header values. If any of
// it were parsed as HTML, `window.__xss` would be set or an <img> would
// appear in the list.
const XSS_ERROR = `<img src=x onerror="window.__xss='error'"> then <script>window.__xss='error-script'</script>`;
const XSS_HEADER = `<script>window.__xss='header'</script><img src=x onerror="window.__xss='header-img'">`;
const XSS_BODY = {
  note: `<script>window.__xss='body'</script><img src=x onerror="window.__xss='body-img'">`,
};

describe("warren console in a browser", () => {
  const vhost = randomName("console");
  let user: TestUser;
  let warren: Warren;
  let console_: ConsoleProcess;
  let browser: TestBrowser;
  let fixed = false;
  const handled: string[] = [];

  beforeAll(async () => {
    await management(`/api/vhosts/${encodeURIComponent(vhost)}`, { method: "PUT", body: "{}" });
    user = await createUser(vhost);
    const topology = await loadTopology(`${repoRoot}topology/orders.yaml`);
    // Applying needs an administrator (it reads the vhost); the console does
    // not: it runs as a user with only the `management` tag.
    await applyTopology(compileTopology(topology), {
      url: brokerUrls().url,
      managementUrl: brokerUrls().managementUrl,
      vhost,
    });

    // A consumer with a bug: orders marked `fail` are refused until it is fixed.
    warren = await connect({
      url: user.url,
      topology,
      publishExchange: "orders",
      logger: pino({ level: "silent" }),
    });
    await warren.consume("orders.fulfil", async (message: unknown, ctx) => {
      const order = message as { orderId: string; fail?: string };
      if (order.fail !== undefined && !fixed) throw new NonRetryableError(order.fail);
      handled.push(ctx.messageId ?? order.orderId);
    });
    await warren.publish(
      "order.created",
      { orderId: "o-1", fail: "stock service down" },
      {
        messageId: "o-1",
      },
    );
    await warren.publish(
      "order.created",
      { orderId: "o-xss", fail: XSS_ERROR, ...XSS_BODY },
      {
        messageId: "o-xss",
        headers: { "app-note": XSS_HEADER },
      },
    );
    await warren.publish("order.created", { orderId: "o-ok" }, { messageId: "o-ok" });
    // A body that is not JSON: the runtime dead-letters it as undecodable.
    const raw = await amqp.connect(user.url);
    const channel = await raw.createConfirmChannel();
    channel.publish("orders", "order.created", Buffer.from("not json <b>"), {
      messageId: "o-raw",
      persistent: true,
    });
    await channel.waitForConfirms();
    await raw.close();
    await waitFor(
      () => readyCount(user.url, "orders.fulfil.dlq"),
      (n) => n === 3,
    );

    console_ = await startConsoleCli([
      "topology/orders.yaml",
      "--url",
      user.url,
      "--management-url",
      user.managementUrl,
      "--vhost",
      vhost,
      "--port",
      "0",
      "--refresh-ms",
      "1000",
    ]);
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await console_?.stop();
    await warren?.close();
    await user?.remove().catch(() => {});
    await management(`/api/vhosts/${encodeURIComponent(vhost)}`, { method: "DELETE" }).catch(
      () => {},
    );
  });

  it("shows the queues with depths, lists dead letters as text, replays one to a running consumer, and refuses actions without the token", async () => {
    const page = await browser.context.newPage();
    const bodies: string[] = [];
    page.on("response", async (response) => {
      bodies.push(await response.text().catch(() => ""));
    });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.goto(console_.pageUrl);
    // The token moves to sessionStorage and out of the address bar.
    await expect.poll(() => page.url()).toBe(`${console_.url}/`);

    // Queues of topology/orders.yaml, with live depths from the management API.
    for (const queue of ["orders.fulfil", "email.send", "invoices"]) {
      await page.locator(`#queues tr[data-queue="${queue}"]`).waitFor();
    }
    const fulfil = page.locator('#queues tr[data-queue="orders.fulfil"]');
    await expect
      .poll(() => fulfil.locator(".depth-dlq").textContent(), { timeout: 20_000 })
      .toBe("3");
    expect(await fulfil.locator(".depth-ready").textContent()).toBe("0");
    expect(await fulfil.locator(".consumers").textContent()).toBe("1");
    expect(await fulfil.locator(".tiers").textContent()).toContain("retry.10s: 0");
    expect(await page.locator('#queues tr[data-queue="invoices"] .depth-dlq').textContent()).toBe(
      "0",
    );

    // Its dead letters, grouped by reason and error type.
    await fulfil.locator("button.open-dlq").click();
    await expect.poll(() => page.locator("#messages li").count(), { timeout: 20_000 }).toBe(3);
    const ids = () =>
      page
        .locator("#messages li")
        .evaluateAll((items) => items.map((li) => li.getAttribute("data-message-id")));
    expect(await ids()).toEqual(["o-1", "o-xss", "o-raw"]);
    const groups = await page.locator("#groups tbody tr").allTextContents();
    expect(groups).toHaveLength(2);
    expect(groups[0]).toContain("non-retryable");
    expect(groups[0]).toContain("NonRetryableError");
    expect(
      await page.locator("#groups tbody tr").first().locator(".group-count").textContent(),
    ).toBe("2");
    expect(groups[1]).toContain("undecodable");

    // Markup in body, error message and header values is shown as text.
    const xss = page.locator('#messages li[data-message-id="o-xss"]');
    expect(await xss.locator(".error-message").textContent()).toBe(XSS_ERROR);
    expect(await xss.locator(".body").textContent()).toContain(
      "<script>window.__xss='body'</script>",
    );
    expect(await xss.locator(".header-value").allTextContents()).toContain(XSS_HEADER);
    expect(await page.locator("#messages img").count()).toBe(0);
    expect(await page.locator("script").count()).toBe(1);
    expect(await page.evaluate(() => (globalThis as { __xss?: unknown }).__xss)).toBeUndefined();

    // Filters narrow the list.
    await page.locator("#filter-reason").selectOption("undecodable");
    expect(await page.locator("#messages li").count()).toBe(1);
    await page.locator("#filter-reason").selectOption("");
    expect(await page.locator("#messages li").count()).toBe(3);

    // The bug is fixed: replay o-1, with the confirmation step.
    fixed = true;
    await page.locator('#messages li[data-message-id="o-1"] input.select').check();
    await page.locator("#replay-selected").click();
    await expect
      .poll(() => page.locator("#confirm-title").textContent())
      .toBe("Replay 1 dead letter?");
    await page.locator("#confirm-ok").click();
    await expect
      .poll(() => page.locator("#result").textContent(), { timeout: 20_000 })
      .toContain("Replayed 1 message from orders.fulfil.dlq to orders.fulfil; 2 messages left");
    await waitFor(
      async () => handled,
      (h) => h.includes("o-1"),
    );
    expect(handled).toEqual(["o-ok", "o-1"]);
    expect(await readyCount(user.url, "orders.fulfil.dlq")).toBe(2);
    await expect.poll(() => page.locator("#messages li").count(), { timeout: 20_000 }).toBe(2);
    // The others stay in Q.dlq, in their order.
    expect(await ids()).toEqual(["o-xss", "o-raw"]);
    await expect
      .poll(() => fulfil.locator(".depth-dlq").textContent(), { timeout: 20_000 })
      .toBe("2");

    await mkdir(`${repoRoot}docs/img`, { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });

    // An action without the token is refused, and moves nothing.
    const refused = await page.evaluate(async () => {
      const response = await fetch("/api/purge", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ queue: "orders.fulfil", confirm: true }),
      });
      return {
        status: response.status,
        body: (await response.json()) as { error: { code: string } },
      };
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("WARREN_CONSOLE_FORBIDDEN");
    // The page's own buttons, once its token is gone, show the refusal.
    await page.evaluate(() => sessionStorage.clear());
    await page.reload();
    await expect
      .poll(() => page.locator("#banner").textContent(), { timeout: 20_000 })
      .toContain("No token");
    expect(await page.locator("#banner").textContent()).toContain("refused (403)");
    expect(await readyCount(user.url, "orders.fulfil.dlq")).toBe(2);

    expect(pageErrors).toEqual([]);
    // Passwords never reach the page.
    expect(bodies.length).toBeGreaterThan(5);
    for (const body of bodies) expect(body).not.toContain(user.password);
    expect(console_.output()).not.toContain(user.password);
  });

  it("refuses an action from a page of another origin, even one that knows the token", async () => {
    // The other origin: a page on another port that posts to the console.
    const other = http.createServer((_, response) => {
      response.writeHead(200, { "content-type": "text/html" });
      response.end("<!doctype html><title>other</title>");
    });
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const port = (other.address() as { port: number }).port;
    try {
      const page = await browser.context.newPage();
      await page.goto(`http://127.0.0.1:${port}/`);
      const outcome = await page.evaluate(
        async ({ target, token }) => {
          try {
            const response = await fetch(`${target}/api/purge`, {
              method: "POST",
              headers: { "content-type": "application/json", "x-warren-token": token },
              body: JSON.stringify({ queue: "orders.fulfil", confirm: true }),
            });
            return `status ${response.status}`;
          } catch (error) {
            return `blocked: ${String(error)}`;
          }
        },
        { target: console_.url, token: console_.token },
      );
      expect(outcome).toMatch(/^blocked/);
      // A client that ignores CORS and sends the token with a foreign Origin is refused too.
      const forged = await fetch(`${console_.url}/api/purge`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-warren-token": console_.token,
          origin: `http://127.0.0.1:${port}`,
        },
        body: JSON.stringify({ queue: "orders.fulfil", confirm: true }),
      });
      expect(forged.status).toBe(403);
      expect(await readyCount(user.url, "orders.fulfil.dlq")).toBe(2);
    } finally {
      other.close();
    }
  });

  it("shows the dead letters a retry tier holds until their target takes them", async () => {
    // email.send.retry.5s dead-letters expired copies to email.send at least
    // once; with email.send deleted, the broker keeps the copy in the tier.
    const admin = await amqp.connect(vhostUrl(vhost));
    try {
      const channel = await admin.createConfirmChannel();
      await channel.deleteQueue("email.send");
      channel.sendToQueue("email.send.retry.5s", Buffer.from("{}"), {
        messageId: "held-1",
        expiration: "100",
      });
      await channel.waitForConfirms();
    } finally {
      await admin.close();
    }
    const page = await browser.context.newPage();
    await page.goto(console_.pageUrl);
    const email = page.locator('#queues tr[data-queue="email.send"]');
    await expect
      .poll(() => email.locator(".tiers").textContent(), { timeout: 30_000 })
      .toContain("retry.5s: 0 (1 held)");
    expect(await email.locator(".depth-ready").textContent()).toBe("absent");
  });
});
