import type { Consumer } from "../src/index.ts";

/** Logs what a consumer does, then stops it, giving handlers 5 s to finish. */
export async function watchThenStop(consumer: Consumer): Promise<void> {
  consumer.on("subscribed", (lane) => console.log(`${consumer.queue}: lane ${lane} consuming`));
  consumer.on("cancelled", (lane) => console.warn(`${consumer.queue}: lane ${lane} cancelled`));
  // consuming: every lane subscribed (what /readyz reports); inFlight: handlers running now.
  console.log({
    consuming: consumer.consuming,
    closing: consumer.closing,
    busy: consumer.inFlight,
  });
  await consumer.close({ drainTimeoutMs: 5_000 });
}
