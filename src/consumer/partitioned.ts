/**
 * The consumer options that mean something else on a partitioned queue
 * (docs/consuming.md#partitioned-queues). A partition has a single active
 * consumer: a second lane on the same partition would only wait for the
 * first, so a partitioned queue runs exactly one lane per partition and
 * `concurrency` is refused rather than silently ignored.
 */
import { ConsumeError, ErrorCode } from "../errors.ts";
import type { ResolvedConsumeOptions } from "./options.ts";

/** Throws `WARREN_INVALID_OPTIONS` for options a partitioned queue cannot honour. */
export function checkPartitionedOptions(
  queue: string,
  options: Pick<ResolvedConsumeOptions<unknown>, "concurrency">,
  partitions: number,
): void {
  if (options.concurrency !== 1) {
    throw new ConsumeError(
      ErrorCode.WARREN_INVALID_OPTIONS,
      `consume("${queue}"): concurrency ${options.concurrency} is not available on a partitioned queue: it runs one handler per partition (${partitions} at once here), and each partition's single active consumer keeps its messages in order. Remove concurrency, or raise partitions in the topology for more parallelism`,
    );
  }
}
