/**
 * `warren dlq list|replay|purge <queue>`: inspect, replay and purge the dead
 * letters of a work queue (docs/dlq.md). Each command turns its flags into
 * the options of one library function in src/dlq/ and prints the result.
 * Exit codes: 0 ok, 1 error (including a purge without --yes and a replay
 * that stopped part way).
 */
import type { DeadLetter } from "../dlq/dead-letter.ts";
import { inspectDeadLetters } from "../dlq/inspect.ts";
import { purgeDeadLetters } from "../dlq/purge.ts";
import { type DeadLetterFilter, replayDeadLetters } from "../dlq/replay.ts";
import type { DeadLetterTargetOptions } from "../dlq/target.ts";
import {
  type Command,
  type CommandContext,
  type CommandGroup,
  endpointOptions,
  type FlagValues,
  stringFlag,
  UsageError,
  vhostFlag,
} from "./command.ts";
import type { Output } from "./output.ts";

function targetOptions(context: CommandContext): DeadLetterTargetOptions {
  const options: DeadLetterTargetOptions = {
    ...endpointOptions(context.values, context.io.env),
    queue: context.positionals[0]!,
  };
  const vhost = vhostFlag(context.values);
  if (vhost !== undefined) options.vhost = vhost;
  return options;
}

function limitFlag(values: FlagValues): number | undefined {
  const raw = stringFlag(values, "limit");
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--limit must be a positive integer, got "${raw}"`);
  }
  return n;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function printLetter(out: Output, letter: DeadLetter): void {
  const facts = [
    `#${letter.position}`,
    `messageId ${letter.messageId ?? "-"}`,
    `reason ${letter.reason ?? "-"}`,
  ];
  if (letter.attempts !== undefined) facts.push(`attempts ${letter.attempts}`);
  if (letter.failedAt !== undefined) facts.push(`failed ${letter.failedAt}`);
  if (letter.replayCount > 0) facts.push(`replayed ${letter.replayCount}x`);
  out.line(facts.join("  "));
  if (letter.errorType !== undefined || letter.errorMessage !== undefined) {
    out.line(`    error: ${letter.errorType ?? "Error"}: ${letter.errorMessage ?? ""}`);
  }
  for (const death of letter.xDeath ?? []) {
    out.line(
      `    x-death: ${death.reason} from "${death.queue}" (${death.count}x, last ${death.time ?? "?"})`,
    );
  }
  if (letter.originalExchange !== undefined || letter.originalRoutingKey !== undefined) {
    out.line(
      `    published to: exchange "${letter.originalExchange ?? ""}", routing key "${letter.originalRoutingKey ?? ""}"`,
    );
  }
  const encoding = letter.bodyEncoding === "base64" ? ", base64" : "";
  const more = letter.bodyTruncated ? " ..." : "";
  out.line(
    `    body (${plural(letter.bodyBytes, "byte")}${encoding}): ${letter.bodyPreview}${more}`,
  );
}

const list: Command = {
  summary: "show the dead letters of a queue with their failure headers (leaves them in place)",
  usage: "<queue> [--limit N]",
  help: ["--limit <n>                 show at most n messages from the head (default 100)"],
  positionals: ["queue"],
  options: { limit: { type: "string" } },
  async run(context: CommandContext): Promise<number> {
    const limit = limitFlag(context.values);
    const listing = await inspectDeadLetters({
      ...targetOptions(context),
      ...(limit === undefined ? {} : { limit }),
    });
    context.out.result({ ok: true, ...listing });
    const { out } = context;
    const shown = listing.messages.length;
    out.line(
      `"${listing.deadLetterQueue}" in vhost "${listing.vhost}" holds ${plural(listing.total, "message")}${shown < listing.total ? ` (showing the first ${shown})` : ""}.`,
    );
    for (const letter of listing.messages) {
      out.line();
      printLetter(out, letter);
    }
    return 0;
  },
};

const replay: Command = {
  summary: "move dead letters back to their queue with the attempt count reset",
  usage: "<queue> [--limit N] [--reason R] [--dry-run]",
  help: [
    "--limit <n>                 replay at most n messages (default: all)",
    "--reason <reason>           only messages with this reason (warren-reason or the broker's x-death reason)",
    "--dry-run                   report what would be replayed; move nothing",
  ],
  positionals: ["queue"],
  options: {
    limit: { type: "string" },
    reason: { type: "string" },
    "dry-run": { type: "boolean" },
  },
  async run(context: CommandContext): Promise<number> {
    const limit = limitFlag(context.values);
    const reason = stringFlag(context.values, "reason");
    const filter: DeadLetterFilter | undefined = reason === undefined ? undefined : { reason };
    const dryRun = context.values["dry-run"] === true;
    const result = await replayDeadLetters({
      ...targetOptions(context),
      dryRun,
      ...(limit === undefined ? {} : { limit }),
      ...(filter === undefined ? {} : { filter }),
    });
    context.out.result({ ok: true, ...result });
    const skipped =
      result.skipped > 0 ? ` (${result.skipped} skipped: reason is not "${reason}")` : "";
    const moved = `${plural(result.replayed, "message")} from "${result.deadLetterQueue}" to "${result.queue}"`;
    context.out.line(
      dryRun
        ? `Dry run: would replay ${moved}${skipped}; nothing was moved.`
        : `Replayed ${moved}${skipped}. ${plural(result.total - result.replayed, "message")} left in "${result.deadLetterQueue}".`,
    );
    return 0;
  },
};

const purge: Command = {
  summary: "delete every dead letter of a queue (needs --yes)",
  usage: "<queue> --yes",
  help: ["--yes                       confirm: the messages are deleted for good"],
  positionals: ["queue"],
  options: { yes: { type: "boolean" } },
  async run(context: CommandContext): Promise<number> {
    const result = await purgeDeadLetters({
      ...targetOptions(context),
      yes: context.values.yes === true,
    });
    context.out.result({ ok: true, ...result });
    context.out.line(
      `Purged ${plural(result.purged, "message")} from "${result.deadLetterQueue}" in vhost "${result.vhost}".`,
    );
    return 0;
  },
};

/** The `warren dlq` command group. */
export const dlqCommands: CommandGroup = { list, replay, purge };
