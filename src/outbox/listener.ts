/**
 * The relay's LISTEN connection: a `pg` client of its own (a pooled one
 * would be returned between queries and miss notifications) that calls
 * `onNotify` for every NOTIFY on the outbox's channel. When it fails or the
 * server drops it, it reconnects after `retryMs`; meanwhile the relay polls,
 * so a lost notification only delays a row. `pg` is imported lazily: it is
 * an optional peer dependency.
 */
import type { Client, Pool } from "pg";
import type { Logger } from "pino";
import { importPg } from "../optional-dependency.ts";

export class Listener {
  readonly #pool: Pool;
  readonly #channel: string;
  readonly #retryMs: number;
  readonly #logger: Logger;
  readonly #onNotify: () => void;
  #client: Client | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(pool: Pool, channel: string, retryMs: number, logger: Logger, onNotify: () => void) {
    this.#pool = pool;
    this.#channel = channel;
    this.#retryMs = retryMs;
    this.#logger = logger;
    this.#onNotify = onNotify;
  }

  /** Connects and LISTENs in the background; never throws. */
  start(): void {
    void this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    let client: Client;
    try {
      const pg = await importPg("the outbox relay");
      client = new pg.default.Client(this.#pool.options);
    } catch (error) {
      this.#logger.warn({ err: error }, "outbox relay: cannot LISTEN; polling only");
      return;
    }
    this.#client = client;
    const retry = () => {
      if (this.#client !== client || this.#stopped) return;
      this.#client = undefined;
      void client.end().catch(() => undefined);
      this.#timer = setTimeout(() => void this.#connect(), this.#retryMs);
    };
    client.on("error", retry);
    client.on("end", retry);
    client.on("notification", () => this.#onNotify());
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#channel}`);
    } catch (error) {
      this.#logger.debug({ err: error }, "outbox relay: LISTEN failed; polling until it works");
      retry();
    }
  }
}
