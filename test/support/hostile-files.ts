/** Hostile topology texts shared by the unit tests and scenario 13. */

const yaml = (lines: string[]) => `${lines.join("\n")}\n`;

/** A YAML alias bomb: 9 levels of 9 aliases, 9^9 leaves when expanded, under 1 KB. */
export function aliasBomb(): string {
  const lines = ["a: &a [x, x, x, x, x, x, x, x, x]"];
  const names = "abcdefghi";
  for (let i = 1; i < names.length; i++) {
    const prev = names[i - 1];
    lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${prev}`).join(", ")}]`);
  }
  return yaml(lines);
}

/** A valid topology of at least `bytes` bytes: one topic exchange and many queues. */
export function bigTopology(bytes: number): { text: string; queues: number } {
  const parts = ["exchanges:\n  ev: { type: topic }\nqueues:\n"];
  let length = parts[0]?.length ?? 0;
  let queues = 0;
  while (length < bytes) {
    const part = `  queue-number-${String(queues).padStart(7, "0")}-with-a-longer-name:\n    bindings: [{ exchange: ev, routingKey: "k.${queues}" }]\n`;
    parts.push(part);
    length += part.length;
    queues++;
  }
  return { text: parts.join(""), queues };
}
