/**
 * The orders service's messages, one registry for the API (which writes them
 * to the outbox) and the workers (which parse them). `simulate` exists only
 * for the demo: it makes a worker fail the way real dependencies do.
 */
import { z } from "zod";
import { defineMessages } from "../../src/index.ts";

export const Order = z.object({
  orderId: z.string(),
  customer: z.string(),
  total: z.number().int().nonnegative(),
  /** Demo only: `flaky` fails twice then succeeds, `poison` never succeeds. */
  simulate: z.enum(["flaky", "poison"]).optional(),
});
export type Order = z.infer<typeof Order>;

/** Routing key → payload; the exchange of each is given where it is published. */
export const messages = defineMessages({
  "order.created": Order, // topic exchange "orders" → orders.fulfil
  "order.confirmation": Order, // fanout exchange "notifications" → email.send
  invoice: Order, // direct exchange "billing" → invoices
});

/** Where each routing key goes. */
export const exchangeOf = {
  "order.created": "orders",
  "order.confirmation": "notifications",
  invoice: "billing",
} as const;
