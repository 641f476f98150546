/**
 * Reading a queue from a test, on a connection of its own: how many
 * messages are ready, and taking them all out.
 */
import amqp, { type GetMessage } from "amqplib";

/** Ready messages in `queue`, as the broker's declare-ok reports them (no statistics lag). */
export async function readyCount(url: string, queue: string): Promise<number> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

/** Takes every message out of `queue` (no ack needed), head first. */
export async function drain(url: string, queue: string): Promise<GetMessage[]> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    const messages: GetMessage[] = [];
    for (;;) {
      const message = await channel.get(queue, { noAck: true });
      if (message === false) return messages;
      messages.push(message);
    }
  } finally {
    await connection.close();
  }
}
