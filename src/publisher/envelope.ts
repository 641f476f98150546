import type { Options } from "amqplib";

/**
 * One message ready for the wire: what the publisher's confirmed `send`
 * takes. The public `publish()` builds one from a routing key and a payload;
 * the consumer runtime builds retry and dead-letter copies from a delivery.
 */
export interface Envelope {
  exchange: string;
  routingKey: string;
  content: Buffer;
  properties: Options.Publish;
  /**
   * Reject with `WARREN_PUBLISH_UNROUTABLE` when no queue takes the message.
   * @default true
   */
  mandatory?: boolean;
  /** Confirm timeout in milliseconds; the publisher's default when omitted. */
  timeoutMs?: number;
}

/** Sends an envelope and resolves once the broker confirmed it. */
export interface ConfirmedSender {
  send(envelope: Envelope): Promise<void>;
}
