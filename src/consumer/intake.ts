/**
 * Whether a consumer takes messages now: an operator's `pause()` and the
 * kill switch (kill-switch.ts) both decide it here, and the consumer only
 * asks (consume.ts): should lane `i` be subscribed, may this delivery start?
 *
 * Pausing cancels subscriptions (basic.cancel) instead of holding messages
 * on the client, so every message not yet started stays in the queue, where
 * other consumers can take it and where no retry tier or dead-letter queue
 * is involved. A probe subscribes one lane only and admits a bounded number
 * of deliveries; with `prefetch` above 1, deliveries the broker sent ahead
 * beyond the probe are handed back to the queue (nack with requeue).
 */
import type { ConsumeMessage } from "amqplib";
import type { Logger } from "pino";
import type { WarrenMetrics } from "../observability/metrics.ts";
import {
  type DeliveryObservation,
  type Intake,
  KillSwitch,
  type KillSwitchChange,
  type KillSwitchState,
  logKillSwitchChange,
  type ResolvedKillSwitch,
} from "./kill-switch.ts";

/** What the intake tells its consumer. */
export interface IntakeHost {
  /** The intake changed: subscribe or cancel lanes to match {@link ConsumerIntake.wantsLane}. */
  apply(): void;
  /** A kill switch state change, or an operator's pause or resume, to emit as an event. */
  emit(change: KillSwitchChange | { state: "paused" }): void;
}

const STATES: readonly KillSwitchState[] = ["running", "tripped", "probing"];

/** One consumer's intake: operator pause plus the optional kill switch. */
export class ConsumerIntake {
  readonly #killSwitch: KillSwitch | undefined;
  readonly #host: IntakeHost;
  readonly #logger: Logger;
  readonly #metrics: WarrenMetrics;
  readonly #queue: string;
  #pausedByOperator = false;

  constructor(options: {
    queue: string;
    killSwitch: ResolvedKillSwitch | undefined;
    host: IntakeHost;
    logger: Logger;
    metrics: WarrenMetrics;
  }) {
    this.#host = options.host;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#queue = options.queue;
    if (options.killSwitch !== undefined) {
      this.#killSwitch = new KillSwitch(options.killSwitch, {
        update: () => this.#host.apply(),
        changed: (change) => this.#changed(change),
      });
      this.#gauge("running");
    }
  }

  /** True while an operator's `pause()` holds. */
  get pausedByOperator(): boolean {
    return this.#pausedByOperator;
  }

  /** The kill switch's state; undefined when it is off. */
  get killSwitchState(): KillSwitchState | undefined {
    return this.#killSwitch?.state;
  }

  /** How many messages the consumer may take now. */
  get intake(): Intake {
    if (this.#pausedByOperator) return "none";
    return this.#killSwitch?.intake ?? "all";
  }

  /** Should lane `index` be subscribed? All lanes normally, lane 0 for a probe. */
  wantsLane(index: number): boolean {
    const intake = this.intake;
    return intake === "all" || (intake === "probe" && index === 0);
  }

  /** May this delivery start? A refused one goes back to the queue. */
  admit(message: ConsumeMessage): boolean {
    if (this.#pausedByOperator) return false;
    return this.#killSwitch?.admit(message) ?? true;
  }

  /** How a delivery ended (the outcome hook). */
  observe(message: ConsumeMessage, observation: DeliveryObservation): void {
    this.#killSwitch?.record(message, observation);
  }

  /** An operator stops the intake. */
  pause(): void {
    if (this.#pausedByOperator) return;
    this.#pausedByOperator = true;
    this.#logger.info("consumer paused by an operator: no messages taken until resume()");
    this.#host.apply();
    this.#host.emit({ state: "paused" });
  }

  /** An operator resumes: lifts a pause and resets a tripped kill switch. */
  resume(): void {
    const wasPaused = this.#pausedByOperator;
    this.#pausedByOperator = false;
    const switchStopped = this.#killSwitch !== undefined && this.#killSwitch.state !== "running";
    // reset() reports its own change (resumed by operator) and applies it.
    if (switchStopped) this.#killSwitch?.reset();
    else if (wasPaused) {
      this.#logger.info("consumer resumed by an operator");
      this.#host.apply();
      this.#host.emit({ state: "resumed", by: "operator" });
    }
  }

  /** The consumer is closing: stop the kill switch's timer. */
  stop(): void {
    this.#killSwitch?.stop();
  }

  /** Why the consumer takes no messages on purpose, for `/readyz`; undefined when it does. */
  describe(): string | undefined {
    if (this.#pausedByOperator) return `${this.#queue}: paused by an operator`;
    const state = this.#killSwitch?.state;
    if (state === "tripped") return `${this.#queue}: kill switch tripped, waiting to probe`;
    if (state === "probing") return `${this.#queue}: kill switch probing`;
    return undefined;
  }

  #changed(change: KillSwitchChange): void {
    logKillSwitchChange(this.#logger, change);
    this.#metrics.killSwitchTransitions.inc({ queue: this.#queue, state: change.state });
    this.#gauge(change.state === "resumed" ? "running" : change.state);
    this.#host.emit(change);
  }

  #gauge(current: KillSwitchState): void {
    for (const state of STATES) {
      this.#metrics.killSwitchState.set({ queue: this.#queue, state }, state === current ? 1 : 0);
    }
  }
}
