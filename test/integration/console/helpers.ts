import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { brokerUrls, management } from "../../support/broker.ts";
import { randomName } from "../../support/names.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

export { readyCount } from "../../support/queues.ts";

/** A broker user of its own, with a password no other test uses, on one vhost. */
export interface TestUser {
  username: string;
  password: string;
  /** AMQP URL with this user's credentials and the vhost. */
  url: string;
  /** Management URL with this user's credentials. */
  managementUrl: string;
  remove(): Promise<void>;
}

/** Creates a `management`-tagged user with full permissions on `vhost`. */
export async function createUser(vhost: string): Promise<TestUser> {
  const username = randomName("console-user");
  const password = `pw-${randomBytes(12).toString("hex")}`;
  const userPath = `/api/users/${encodeURIComponent(username)}`;
  await management(userPath, {
    method: "PUT",
    body: JSON.stringify({ password, tags: "management" }),
  });
  await management(
    `/api/permissions/${encodeURIComponent(vhost)}/${encodeURIComponent(username)}`,
    { method: "PUT", body: JSON.stringify({ configure: ".*", write: ".*", read: ".*" }) },
  );
  const { url, managementUrl } = brokerUrls();
  const amqpUrl = new URL(url);
  amqpUrl.username = username;
  amqpUrl.password = password;
  amqpUrl.pathname = `/${encodeURIComponent(vhost)}`;
  const mgmt = new URL(managementUrl);
  mgmt.username = username;
  mgmt.password = password;
  return {
    username,
    password,
    url: amqpUrl.href,
    managementUrl: mgmt.href,
    remove: () => management(userPath, { method: "DELETE" }).then(() => {}),
  };
}

/** A `warren console` process started by a test. */
export interface ConsoleProcess {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** The printed URL with the token in its fragment. */
  pageUrl: string;
  token: string;
  /** Everything printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `node src/cli/run.ts console ...args` and waits for the URL it prints. */
export function startConsoleCli(args: string[]): Promise<ConsoleProcess> {
  const child: ChildProcess = spawn(process.execPath, ["src/cli/run.ts", "console", ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`warren console printed no URL within 30 s:\n${output}`));
    }, 30_000);
    const check = () => {
      const match = /open (http:\/\/\S+)\/#token=(\S+)/.exec(output);
      if (match === null) return;
      clearTimeout(timer);
      child.stdout?.off("data", check);
      resolve({
        url: match[1]!,
        token: match[2]!,
        pageUrl: `${match[1]}/#token=${match[2]}`,
        output: () => output,
        stop,
      });
    };
    child.stdout?.on("data", check);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`warren console exited with ${code}:\n${output}`));
    });
  });
}

/** Polls `read` until `done` holds (or throws the last value after `timeoutMs`). */
export async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
