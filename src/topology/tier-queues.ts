/**
 * The retry-tier queues of one retry policy, as compile.ts declares them for
 * a plain queue and partitions.ts for each partition: one queue per distinct
 * delay (attempts that share a delay share its tier), each dead-lettering
 * back into `target` when its TTL ends.
 */
import type { BrokerArguments, QueueObject, QueueType, RetryPolicy } from "./model.ts";

export function retryTierQueues(
  policy: RetryPolicy,
  owner: string,
  type: QueueType,
  target: string,
  tierArguments: (target: string, delayMs: number) => BrokerArguments,
): QueueObject[] {
  const queues: QueueObject[] = [];
  const seen = new Set<string>();
  for (const tier of policy.tiers) {
    if (seen.has(tier.queue)) continue;
    seen.add(tier.queue);
    queues.push({
      name: tier.queue,
      role: "retry",
      owner,
      type,
      durable: true,
      arguments: tierArguments(target, tier.delayMs),
    });
  }
  return queues;
}
