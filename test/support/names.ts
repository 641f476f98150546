import { randomBytes } from "node:crypto";

/**
 * A name unique to this test, e.g. `randomName("orders")` →
 * `orders-3f9a1c2b`, so that tests running in parallel never share objects.
 */
export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}
