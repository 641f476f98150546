import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.ts";

// Every bad input of the topology issue, through `warren topology validate`
// as a user runs it: exit code 1 and the exact line that says what and where.
const cases: { name: string; file: string; env?: Record<string, string>; line: string }[] = [
  {
    name: "an unknown key, with a suggestion",
    file: "exchanges:\n  orders: { type: topic, durabel: true }\n",
    line: 'F:2: exchanges.orders.durabel: unknown key "durabel" (did you mean "durable"?)',
  },
  {
    name: "a wrong exchange type",
    file: "exchanges:\n  orders: { type: topik }\n",
    line: 'F:2: exchanges.orders.type: "topik" is not one of: direct, fanout, topic, headers (did you mean "topic"?)',
  },
  {
    name: "a binding to an undeclared exchange",
    file: 'exchanges:\n  orders: { type: topic }\nqueues:\n  q:\n    bindings: [{ exchange: order, routingKey: "a.*" }]\n',
    line: 'F:5: queues.q.bindings[0]: exchange "order" is not declared (declared: orders)',
  },
  {
    name: "a dead-letter exchange that does not exist",
    file: "queues:\n  q:\n    deadLetter: { exchange: dlx }\n",
    line: 'F:3: queues.q.deadLetter.exchange: dead-letter exchange "dlx" is not declared (no exchanges are declared)',
  },
  {
    name: "an alternate exchange that does not exist",
    file: "exchanges:\n  orders: { type: topic, alternateExchange: unrouted }\n",
    line: 'F:2: exchanges.orders.alternateExchange: alternate exchange "unrouted" is not declared (declared: orders)',
  },
  {
    name: "duplicate names after interpolation",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own ${VAR} syntax
    file: "exchanges:\n  ${A}: { type: topic }\n  ${B}: { type: topic }\n",
    env: { A: "x", B: "x" },
    // biome-ignore lint/suspicious/noTemplateCurlyInString: quoted from the message
    line: 'F:3: exchanges.x: "x" is declared twice after ${...} interpolation (first at line 2); names must be unique',
  },
  {
    name: "a negative duration",
    file: "queues:\n  q:\n    retry: { delays: [-1s], maxAttempts: 2 }\n",
    line: 'F:3: queues.q.retry.delays[0]: "-1s" is negative; a duration is 0 or more',
  },
  {
    name: "an unparseable duration",
    file: "queues:\n  q:\n    retry: { delays: [soon], maxAttempts: 2 }\n",
    line: 'F:3: queues.q.retry.delays[0]: "soon" is not a duration; write an integer of milliseconds or an integer with a unit: 500ms, 10s, 5m, 1h',
  },
  {
    name: "maxAttempts below 1",
    file: "queues:\n  q:\n    retry: { delays: [], maxAttempts: 0 }\n",
    line: "F:3: queues.q.retry.maxAttempts: must be at least 1 (the first attempt counts)",
  },
  {
    name: "retry delays with no way back",
    file: "queues:\n  q:\n    retry: { delays: [1s], maxAttempts: 1 }\n",
    line: 'F:3: queues.q.retry: delays are never used: maxAttempts is 1, so a failed message goes straight to "q.dlq"; raise maxAttempts to 2 or remove delays',
  },
  {
    name: "a non-durable queue",
    file: "queues:\n  q:\n    durable: false\n",
    line: "F:3: queues.q.durable: warren declares every queue durable: a non-durable queue loses its messages when the broker restarts; remove durable: false",
  },
  {
    name: "a classic-only argument on a quorum queue",
    file: "queues:\n  q:\n    arguments: { x-max-priority: 10 }\n",
    line: 'F:3: queues.q.arguments."x-max-priority": "x-max-priority" is for classic queues only; RabbitMQ refuses it on a quorum queue (remove it or set type: classic)',
  },
  {
    name: "a quorum-only argument on a classic queue",
    file: "queues:\n  q:\n    type: classic\n    arguments: { x-quorum-initial-group-size: 3 }\n",
    line: 'F:4: queues.q.arguments."x-quorum-initial-group-size": "x-quorum-initial-group-size" is for quorum queues only; RabbitMQ refuses it on a classic queue (remove it or set type: quorum)',
  },
  {
    name: "deliveryLimit on a classic queue",
    file: "queues:\n  q:\n    type: classic\n    deliveryLimit: 5\n",
    line: "F:4: queues.q.deliveryLimit: deliveryLimit is for quorum queues only (RabbitMQ refuses x-delivery-limit on a classic queue); remove it or set type: quorum",
  },
  {
    name: "invalid YAML",
    file: "queues:\n  q: [\n",
    line: "F:3: Flow sequence in block collection must be sufficiently indented and end with a ]",
  },
  {
    name: "an empty file",
    file: "",
    line: "F: the file is empty; declare exchanges and queues (see docs/topology.md)",
  },
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "warren-bad-inputs-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function validate(path: string, env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await main(["topology", "validate", path], {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
  });
  return { code, stdout, stderr };
}

describe("warren topology validate on bad input", () => {
  it.each(cases)("exits 1 and explains $name", async ({ name, file, env, line }) => {
    const path = join(dir, `${name.replaceAll(" ", "-")}.yaml`);
    await writeFile(path, file);
    const result = await validate(path, env);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(line.replace(/^F/, path));
  });

  it("exits 1 and names a file that does not exist", async () => {
    const path = join(dir, "missing.yaml");
    const result = await validate(path);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${path}: topology file not found; check the path`);
  });
});
