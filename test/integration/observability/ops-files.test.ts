/**
 * The files in ops/ reference series by name: alert rules, the Grafana
 * dashboard, the prometheus-adapter rules and the HPA and KEDA manifests.
 * This checks every name and label they use against what really exists:
 * warren's registry, and the rabbitmq_prometheus plugin's output from the
 * test broker (with a classic queue holding a timestamped message, so the
 * head-timestamp series is there). The PromQL of the dashboard and
 * manifests is also checked by `promtool check rules` when promtool is
 * installed (CI installs it).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import amqp from "amqplib";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { createMetrics } from "../../../src/observability/metrics.ts";
import { randomName } from "../../support/names.ts";
import { parsePrometheusText } from "../../support/prometheus.ts";
import { queryUse } from "../../support/promql.ts";
import { createVhost, deleteVhost, vhostUrl } from "../consumer/harness.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const read = (path: string) => readFile(join(root, path), "utf8");

/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = new Set(["instance", "job"]);

/**
 * The outbox relay (another branch) registers `warren_outbox_*` on its own;
 * until it is merged these are checked against its source when present.
 */
const OUTBOX_SERIES: Record<string, string[]> = {
  warren_outbox_oldest_pending_seconds: ["table"],
};

/** Every series name → its label names. */
const known = new Map<string, Set<string>>();

function addWarrenSeries(): void {
  const registry = new Registry();
  createMetrics(registry);
  for (const metric of registry.getMetricsAsArray()) {
    const { name, labelNames, type } = metric as unknown as {
      name: string;
      labelNames: string[];
      type: string;
    };
    const labels = new Set(labelNames);
    if (type === "histogram") {
      known.set(`${name}_bucket`, new Set([...labels, "le"]));
      known.set(`${name}_sum`, labels);
      known.set(`${name}_count`, labels);
    } else known.set(name, labels);
  }
  for (const [name, labels] of Object.entries(OUTBOX_SERIES)) known.set(name, new Set(labels));
}

const vhost = randomName("warren-ops");

beforeAll(async () => {
  addWarrenSeries();
  const prometheusUrl = inject("RABBITMQ_PROMETHEUS_URL");
  expect(prometheusUrl, "the test broker must expose rabbitmq_prometheus").not.toBe("");
  await createVhost(vhost);
  const connection = await amqp.connect(vhostUrl(vhost));
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue("orders", { durable: true, arguments: { "x-queue-type": "classic" } });
  channel.sendToQueue("orders", Buffer.from("{}"), { timestamp: Math.floor(Date.now() / 1000) });
  await channel.waitForConfirms();
  await connection.close();
  const path =
    "/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count&family=queue_metrics";
  const text = await (await fetch(`${prometheusUrl}${path}`)).text();
  for (const sample of parsePrometheusText(text).samples) {
    const labels = known.get(sample.name) ?? new Set<string>();
    for (const label of Object.keys(sample.labels)) labels.add(label);
    known.set(sample.name, labels);
  }
});

afterAll(async () => {
  await deleteVhost(vhost);
});

/** Problems with one query: unknown series, or labels its series do not have. */
function problemsOf(where: string, query: string, legend?: string): string[] {
  const use = queryUse(query);
  const problems: string[] = [];
  if (use.metrics.length === 0) problems.push(`${where}: no series in ${query}`);
  for (const name of use.metrics) {
    const labels = known.get(name);
    if (labels === undefined) {
      problems.push(`${where}: unknown series ${name}`);
      continue;
    }
    for (const label of use.selectorLabels.get(name) ?? []) {
      if (!labels.has(label)) problems.push(`${where}: ${name} has no label "${label}"`);
    }
    for (const label of use.groupingLabels) {
      if (!labels.has(label) && !TARGET_LABELS.has(label)) {
        problems.push(`${where}: groups by "${label}" but ${name} has no such label`);
      }
    }
  }
  for (const [, label] of (legend ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
    const somewhere = use.metrics.some((name) => known.get(name)?.has(label!));
    if (!somewhere && !TARGET_LABELS.has(label!)) {
      problems.push(`${where}: legend uses "${label}", which no series of the query has`);
    }
  }
  return problems;
}

interface Query {
  where: string;
  expr: string;
  legend?: string;
}

async function alertQueries(): Promise<Query[]> {
  const rules = parse(await read("ops/prometheus/alerts.yml")) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return rules.groups.flatMap((group) =>
    group.rules.map((rule) => ({ where: `alerts.yml ${rule.alert}`, expr: rule.expr })),
  );
}

async function dashboardQueries(): Promise<Query[]> {
  const dashboard = JSON.parse(await read("ops/grafana/warren.json")) as {
    panels: { title: string; targets?: { expr: string; legendFormat?: string }[] }[];
    templating: { list: { name: string; query?: unknown }[] };
  };
  const queries: Query[] = dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      where: `warren.json "${panel.title}"`,
      expr: target.expr,
      ...(target.legendFormat === undefined ? {} : { legend: target.legendFormat }),
    })),
  );
  for (const variable of dashboard.templating.list) {
    const query = (variable.query as { query?: string } | undefined)?.query;
    if (query !== undefined) queries.push({ where: `warren.json $${variable.name}`, expr: query });
  }
  return queries;
}

interface AdapterRule {
  seriesQuery: string;
  metricsQuery: string;
  name: { as: string };
}

async function adapterRules(): Promise<AdapterRule[]> {
  const configMap = parse(await read("ops/kubernetes/prometheus-adapter.yaml")) as {
    data: { "config.yaml": string };
  };
  return (parse(configMap.data["config.yaml"]) as { externalRules: AdapterRule[] }).externalRules;
}

/** An adapter query with its template filled as the adapter would. */
const filled = (query: string) => query.replaceAll("<<.LabelMatchers>>", 'queue="orders"');

async function manifestQueries(): Promise<Query[]> {
  const queries: Query[] = [];
  for (const rule of await adapterRules()) {
    queries.push({ where: `adapter ${rule.name.as} seriesQuery`, expr: rule.seriesQuery });
    queries.push({
      where: `adapter ${rule.name.as} metricsQuery`,
      expr: filled(rule.metricsQuery),
    });
  }
  const keda = parseAllDocuments(await read("ops/kubernetes/keda.yaml")).map((d) => d.toJS());
  for (const doc of keda) {
    for (const trigger of doc.spec?.triggers ?? []) {
      if (trigger.type === "prometheus") {
        queries.push({ where: "keda.yaml prometheus trigger", expr: trigger.metadata.query });
      }
    }
  }
  return queries;
}

describe("ops/ files reference series that exist", () => {
  it("alert rules use only known series and labels", async () => {
    const queries = await alertQueries();
    expect(queries.length).toBe(8);
    expect(queries.flatMap((q) => problemsOf(q.where, q.expr))).toEqual([]);
  });

  it("the Grafana dashboard uses only known series and labels", async () => {
    const queries = await dashboardQueries();
    expect(queries.length).toBeGreaterThan(20);
    expect(queries.flatMap((q) => problemsOf(q.where, q.expr, q.legend))).toEqual([]);
  });

  it("the HPA, prometheus-adapter and KEDA manifests use only known series and labels", async () => {
    const queries = await manifestQueries();
    expect(queries.flatMap((q) => problemsOf(q.where, q.expr))).toEqual([]);

    // The HPA's external metrics are the adapter's, selected by labels they keep.
    const rules = new Map((await adapterRules()).map((rule) => [rule.name.as, rule]));
    const hpa = parse(await read("ops/kubernetes/hpa.yaml")) as {
      spec: {
        metrics: {
          external: { metric: { name: string; selector: { matchLabels: Record<string, string> } } };
        }[];
      };
    };
    expect(hpa.spec.metrics).toHaveLength(2);
    for (const { external } of hpa.spec.metrics) {
      const rule = rules.get(external.metric.name);
      expect(rule, `adapter rule for ${external.metric.name}`).toBeDefined();
      for (const label of Object.keys(external.metric.selector.matchLabels)) {
        expect(queryUse(rule!.metricsQuery).groupingLabels).toContain(label);
      }
    }

    // KEDA's RabbitMQ scaler: a queue and a mode it knows.
    const keda = parseAllDocuments(await read("ops/kubernetes/keda.yaml")).map((d) => d.toJS());
    const rabbit = keda
      .flatMap((doc) => doc.spec?.triggers ?? [])
      .find((t: { type: string }) => t.type === "rabbitmq");
    expect(rabbit.metadata).toMatchObject({ queueName: "orders", mode: "QueueLength" });
  });

  it("the outbox series the rules use exist in the outbox relay once it is merged", async () => {
    const source = join(root, "src/outbox/relay-metrics.ts");
    if (!existsSync(source)) return; // not merged yet: see OUTBOX_SERIES
    const text = await readFile(source, "utf8");
    for (const [name, labels] of Object.entries(OUTBOX_SERIES)) {
      expect(text).toContain(`"${name}"`);
      for (const label of labels) expect(text).toContain(`"${label}"`);
    }
  });

  const promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => existsSync(p));
  it.skipIf(promtool === undefined)(
    "every dashboard and manifest query is valid PromQL (promtool check rules)",
    async () => {
      // Template variables use Grafana's label_values(), not PromQL.
      const panels = (await dashboardQueries()).filter((q) => !q.where.includes("$"));
      const queries = [...panels, ...(await manifestQueries())];
      const rules = queries.map((q, i) => ({
        record: `warren_check:query_${i}`,
        expr: q.expr.replaceAll("$__rate_interval", "5m").replaceAll("$queue", ".+"),
      }));
      const dir = await mkdtemp(join(tmpdir(), "warren-promql-"));
      try {
        const file = join(dir, "queries.yml");
        await writeFile(file, JSON.stringify({ groups: [{ name: "check", rules }] }));
        const { stdout } = await promisify(execFile)(promtool!, ["check", "rules", file]);
        expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
