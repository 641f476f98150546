/**
 * Coalesces the socket writes amqplib makes together into one `writev`.
 *
 * Every warren connection sets TCP_NODELAY for low latency (docs/architecture.md#connections).
 * amqplib writes each frame to the socket separately, so with Nagle's
 * algorithm off every pipelined publish becomes its own TCP segment and
 * syscall; measured here that costs about 10 % of pipelined throughput.
 *
 * amqplib does not write frames as they are made: each channel buffers them
 * and the connection's muxer (`connection.muxer`) copies them to the socket
 * in one synchronous pass (`_readIncoming`, run on `drain` or scheduled by
 * `_scheduleRead`). Corking the socket for exactly that pass sends what it
 * wrote as one write, and uncorks in the same tick: a lone frame leaves at
 * once, with no closure per pass (issue #10).
 *
 * amqplib schedules the pass with `setImmediate`, so every frame waited for
 * the event loop's next check phase: after the poll phase had run every
 * other socket's callbacks, a wait that is not work. Measured for issue #10
 * (docs/performance.md), the frames of an awaited publish reached the socket
 * 10 µs (median; 16 µs mean) after amqplib had them, an ack at prefetch 1
 * 5 µs (13 µs mean), and about half that with this. Here the pass is
 * scheduled with `process.nextTick`: it runs once the code and the promise
 * continuations of the current callback have finished, so what they wrote
 * still leaves as one write (a burst of publishes released by one multiple
 * confirm, the acks of a batch of deliveries read together), but no later.
 *
 * When the muxer is not where amqplib 2 keeps it, writes are corked from the
 * first write of a tick to the next `process.nextTick` instead.
 */
import type { Writable } from "node:stream";
import type { ChannelModel } from "amqplib";

const COALESCED = Symbol("warren.coalesced");

/** The part of amqplib's connection this module reaches into. */
interface AmqplibConnection {
  stream?: Writable;
  muxer?: AmqplibMuxer;
}

/** amqplib's muxer (lib/mux.js): one pass copies the channels' frames to the socket. */
interface AmqplibMuxer {
  _readIncoming?: () => void;
  _scheduleRead?: () => void;
  /** True while a pass is scheduled. */
  scheduledRead?: boolean;
}

/**
 * Makes the writes amqplib's muxer does in one pass leave the model's socket
 * as one write. Does nothing when the socket cannot be found or is already
 * wrapped.
 */
export function coalesceSocketWrites(model: ChannelModel): void {
  const connection = model.connection as unknown as AmqplibConnection;
  const stream = connection.stream;
  if (stream === undefined || typeof stream.cork !== "function") return;
  const marked = stream as Writable & { [COALESCED]?: true };
  if (marked[COALESCED]) return;
  marked[COALESCED] = true;

  const muxer = connection.muxer;
  const pass = muxer?._readIncoming;
  if (muxer !== undefined && typeof pass === "function") {
    muxer._readIncoming = function corkedPass(this: unknown): void {
      stream.cork();
      try {
        pass.call(this);
      } finally {
        stream.uncork();
      }
    };
    if (typeof muxer._scheduleRead === "function") passAtEndOfTick(muxer);
    return;
  }
  corkUntilNextTick(stream);
}

/** Schedules the muxer's pass on `process.nextTick` instead of `setImmediate` (see the module comment). */
function passAtEndOfTick(muxer: AmqplibMuxer): void {
  const runPass = () => {
    muxer.scheduledRead = false;
    muxer._readIncoming?.();
  };
  muxer._scheduleRead = () => {
    if (muxer.scheduledRead === true) return;
    muxer.scheduledRead = true;
    process.nextTick(runPass);
  };
}

/** The fallback: cork on the first write of a tick, uncork on the next `process.nextTick`. */
function corkUntilNextTick(stream: Writable): void {
  const write = stream.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = function coalescedWrite(this: Writable, ...args: unknown[]): boolean {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as Writable["write"];
}
