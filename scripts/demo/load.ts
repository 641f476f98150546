/**
 * The demo's scripted load: `n` orders POSTed to the API by a few concurrent
 * clients. Every 12th order is flaky (its fulfilment fails twice and its
 * invoice once before they succeed), every 50th is poison (its fulfilment
 * never succeeds and ends in orders.fulfil.dlq).
 */
export type Simulation = "flaky" | "poison" | undefined;

/** What order number `i` simulates. */
export function simulationOf(i: number): Simulation {
  if (i % 50 === 7) return "poison";
  if (i % 12 === 3) return "flaky";
  return undefined;
}

export interface Accepted {
  orderId: string;
  simulate: Simulation;
  responseMs: number;
}

/**
 * POSTs `n` orders with `concurrency` clients; `onAccepted` is called after
 * each 202. Resolves with the accepted orders; a non-202 answer rejects.
 */
export async function postOrders(
  apiUrl: string,
  n: number,
  concurrency: number,
  onAccepted: (accepted: Accepted, count: number) => void | Promise<void>,
): Promise<Accepted[]> {
  const accepted: Accepted[] = [];
  let next = 0;
  const client = async () => {
    while (next < n) {
      const i = next++;
      const simulate = simulationOf(i);
      const body = {
        customer: `customer-${i % 37}`,
        items: [{ sku: `sku-${i % 11}`, quantity: 1 + (i % 3), price: 1_250 }],
        ...(simulate === undefined ? {} : { simulate }),
      };
      const started = performance.now();
      const response = await fetch(`${apiUrl}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const responseMs = performance.now() - started;
      const answer = (await response.json()) as { orderId?: string; status?: string };
      if (
        response.status !== 202 ||
        answer.orderId === undefined ||
        answer.status !== "processing"
      ) {
        throw new Error(`POST /orders answered ${response.status} ${JSON.stringify(answer)}`);
      }
      const order = { orderId: answer.orderId, simulate, responseMs };
      accepted.push(order);
      await onAccepted(order, accepted.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return accepted;
}
