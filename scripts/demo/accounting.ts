/**
 * Where every order is, from the database and the queues: each of its three
 * steps must have exactly one effect row (done once) or sit in its step's
 * dead-letter queue (and then have no effect row). Anything else is lost or
 * done twice, and the demo fails.
 */
import type { Pool } from "pg";
import { STEPS, type Step } from "../../examples/orders/database.ts";
import { inspectDeadLetters } from "../../src/index.ts";

/** The queue of each step. */
export const QUEUE_OF: Record<Step, string> = {
  fulfilment: "orders.fulfil",
  email: "email.send",
  invoice: "invoices",
};

export interface Accounting {
  /** Orders whose three steps are done, once each. */
  processed: string[];
  /** Orders with a step in a dead-letter queue and the others done. */
  deadLettered: string[];
  /** Order steps neither done nor dead-lettered (yet). */
  missing: string[];
  /** Order steps done more than once, or both done and dead-lettered. */
  twice: string[];
  /** Completion time per processed order (last effect minus insert), in ms. */
  completionMs: number[];
}

/** Effect counts per order and step, and the completion times. */
async function effects(pool: Pool, schema: string) {
  const { rows } = await pool.query<{ order_id: string; step: Step; n: number; ms: number }>(
    `SELECT e.order_id, e.step, count(*)::int AS n,
       extract(epoch FROM max(e.done_at) - o.created_at)::float8 * 1000 AS ms
     FROM ${schema}.effects e JOIN ${schema}.orders o ON o.id = e.order_id
     GROUP BY e.order_id, e.step, o.created_at`,
  );
  return rows;
}

/** Order ids in each step's dead-letter queue (one entry per distinct message). */
export async function deadLetteredOrders(target: {
  url: string;
  managementUrl: string;
  vhost: string;
}) {
  const byStep = new Map<Step, Set<string>>();
  for (const step of STEPS) {
    const listing = await inspectDeadLetters({
      ...target,
      queue: QUEUE_OF[step],
      limit: 10_000,
      previewBytes: 2_048,
    });
    const seen = new Set<string>();
    const orders = new Set<string>();
    for (const letter of listing.messages) {
      if (letter.messageId !== undefined && seen.has(letter.messageId)) continue;
      if (letter.messageId !== undefined) seen.add(letter.messageId);
      orders.add((JSON.parse(letter.bodyPreview) as { orderId: string }).orderId);
    }
    byStep.set(step, orders);
  }
  return byStep;
}

/** Accounts for every accepted order. */
export async function account(
  pool: Pool,
  schema: string,
  accepted: readonly string[],
  dead: Map<Step, Set<string>>,
): Promise<Accounting> {
  const done = new Map<string, number>();
  const lastEffectMs = new Map<string, number>();
  for (const row of await effects(pool, schema)) {
    done.set(`${row.order_id}/${row.step}`, row.n);
    lastEffectMs.set(row.order_id, Math.max(lastEffectMs.get(row.order_id) ?? 0, row.ms));
  }
  const result: Accounting = {
    processed: [],
    deadLettered: [],
    missing: [],
    twice: [],
    completionMs: [],
  };
  for (const orderId of accepted) {
    let complete = true;
    let anyDead = false;
    for (const step of STEPS) {
      const n = done.get(`${orderId}/${step}`) ?? 0;
      const isDead = dead.get(step)?.has(orderId) ?? false;
      if (n > 1 || (n === 1 && isDead)) result.twice.push(`${orderId}/${step}`);
      if (n === 0 && !isDead) {
        result.missing.push(`${orderId}/${step}`);
        complete = false;
      }
      anyDead ||= isDead;
    }
    if (!complete) continue;
    if (anyDead) result.deadLettered.push(orderId);
    else {
      result.processed.push(orderId);
      result.completionMs.push(lastEffectMs.get(orderId) ?? 0);
    }
  }
  return result;
}

/** Effect rows per step (for live progress). */
export async function effectCounts(pool: Pool, schema: string): Promise<Record<Step, number>> {
  const { rows } = await pool.query<{ step: Step; n: number }>(
    `SELECT step, count(*)::int AS n FROM ${schema}.effects GROUP BY step`,
  );
  const counts = { fulfilment: 0, email: 0, invoice: 0 };
  for (const row of rows) counts[row.step] = row.n;
  return counts;
}
