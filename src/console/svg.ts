/**
 * Draws a {@link ConsoleTopology} as a standalone SVG document: exchanges on
 * the left, work queues in the middle, each queue's retry tiers and `Q.dlq`
 * on the right. Bindings are lines labelled with their routing key; a tier
 * and the dead-letter queue hang off their work queue (dashed for tiers,
 * red for the DLQ).
 *
 * The page shows the document as an image, which cannot run scripts, and
 * every name is XML-escaped here anyway: queue and exchange names come from
 * a file or a broker, not from us.
 */
import { formatDelay } from "../topology/duration.ts";
import type { ConsoleTopology } from "./model.ts";

const BOX = Object.freeze({
  exchangeX: 20,
  exchangeWidth: 200,
  queueX: 330,
  queueWidth: 220,
  sideX: 640,
  sideWidth: 260,
  height: 34,
  sideHeight: 24,
  gap: 14,
  top: 40,
});

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

function box(x: number, y: number, w: number, h: number, cls: string, label: string): string {
  return (
    `<g class="${cls}"><rect x="${x}" y="${y}" width="${w}" height="${h}" rx="5"/>` +
    `<text x="${x + 8}" y="${y + h / 2 + 4}">${escapeXml(label)}</text></g>`
  );
}

function line(x1: number, y1: number, x2: number, y2: number, cls: string): string {
  const mid = (x1 + x2) / 2;
  return `<path class="${cls}" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}"/>`;
}

/** The SVG document for `topology` (pure). */
export function renderTopologySvg(topology: ConsoleTopology): string {
  const parts: string[] = [];
  const queueY = new Map<string, number>();
  let y = BOX.top;
  for (const queue of topology.queues) {
    const rows = Math.max(2, queue.tiers.length + 1);
    const blockHeight = rows * (BOX.sideHeight + 6);
    const qy = y + (blockHeight - BOX.height) / 2;
    queueY.set(queue.name, qy + BOX.height / 2);
    parts.push(
      box(BOX.queueX, qy, BOX.queueWidth, BOX.height, "queue", `${queue.name} (${queue.type})`),
    );
    let sy = y;
    for (const tier of queue.tiers) {
      const label =
        tier.delayMs === undefined
          ? tier.queue
          : `${tier.queue}  wait ${formatDelay(tier.delayMs)}`;
      parts.push(
        line(BOX.queueX + BOX.queueWidth, qy + BOX.height / 2, BOX.sideX, sy + 12, "tier-edge"),
      );
      parts.push(box(BOX.sideX, sy, BOX.sideWidth, BOX.sideHeight, "tier", label));
      sy += BOX.sideHeight + 6;
    }
    parts.push(
      line(BOX.queueX + BOX.queueWidth, qy + BOX.height / 2, BOX.sideX, sy + 12, "dlq-edge"),
    );
    parts.push(box(BOX.sideX, sy, BOX.sideWidth, BOX.sideHeight, "dlq", queue.deadLetterQueue));
    y += blockHeight + BOX.gap;
  }
  const queuesBottom = y;

  const exchangeY = new Map<string, number>();
  const count = Math.max(1, topology.exchanges.length);
  const span = Math.max(queuesBottom - BOX.top, count * (BOX.height + BOX.gap));
  const step = span / count;
  topology.exchanges.forEach((exchange, i) => {
    const ey = BOX.top + i * step + (step - BOX.height) / 2;
    exchangeY.set(exchange.name, ey + BOX.height / 2);
    parts.push(
      box(
        BOX.exchangeX,
        ey,
        BOX.exchangeWidth,
        BOX.height,
        "exchange",
        `${exchange.name} (${exchange.type})`,
      ),
    );
  });

  const edges: string[] = [];
  for (const binding of topology.bindings) {
    const from = exchangeY.get(binding.source);
    if (from === undefined) continue;
    const x1 = BOX.exchangeX + BOX.exchangeWidth;
    let x2: number;
    let to: number | undefined;
    if (binding.destinationType === "queue") {
      to = queueY.get(binding.destination);
      x2 = BOX.queueX;
    } else {
      // Exchange to exchange: a loop on the left of the exchange column.
      to = exchangeY.get(binding.destination);
      x2 = BOX.exchangeX;
      if (to !== undefined) {
        edges.push(
          `<path class="binding" d="M${BOX.exchangeX},${from} C${BOX.exchangeX - 18},${from} ${BOX.exchangeX - 18},${to} ${x2},${to}"/>`,
        );
      }
      continue;
    }
    if (to === undefined) continue;
    edges.push(line(x1, from, x2, to, "binding"));
    if (binding.routingKey !== "") {
      edges.push(
        `<text class="key" x="${(x1 + x2) / 2 - 30}" y="${(from + to) / 2 - 4}">${escapeXml(binding.routingKey)}</text>`,
      );
    }
  }

  const width = BOX.sideX + BOX.sideWidth + 20;
  const height = Math.max(queuesBottom, BOX.top + span) + 10;
  const style = [
    "text{font:12px system-ui,sans-serif;fill:#1d2433}",
    ".exchange rect{fill:#e8efff;stroke:#4a6fd1}",
    ".queue rect{fill:#eaf7ee;stroke:#2f8f4e}",
    ".tier rect{fill:#fff7e0;stroke:#c99a1b}",
    ".dlq rect{fill:#fdecec;stroke:#c43d3d}",
    "path{fill:none;stroke:#8a94a6;stroke-width:1.3}",
    ".tier-edge{stroke:#c99a1b;stroke-dasharray:4 3}",
    ".dlq-edge{stroke:#c43d3d}",
    ".key{font-size:11px;fill:#4a5568}",
    ".heading{font-weight:600;fill:#4a5568}",
  ].join("");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">`,
    `<title>${escapeXml(`topology of vhost ${topology.vhost}`)}</title>`,
    `<style>${style}</style>`,
    `<text class="heading" x="${BOX.exchangeX}" y="22">exchanges</text>`,
    `<text class="heading" x="${BOX.queueX}" y="22">queues</text>`,
    `<text class="heading" x="${BOX.sideX}" y="22">retry tiers and dead letters</text>`,
    ...edges,
    ...parts,
    "</svg>",
  ].join("\n");
}
