import pg from "pg";

/** The channel write batches NOTIFY when they made a run due; the payload is the store's schema. */
export const WAKEUP_CHANNEL = "dirigent_wakeup";

const noop = () => {};

/**
 * One dedicated connection doing `LISTEN dirigent_wakeup` for all of a store's subscribers. If the
 * connection drops it reconnects with backoff, and then wakes every subscriber once, since
 * notifications sent while it was away are lost (the engine's claim pass finds what became due).
 */
export class WakeupListener {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly callbacks = new Set<() => void>();
  private delayMs = 100;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    /** Notifications of other schemas in the same database (other installations, tests) are ignored. */
    private readonly schema: () => Promise<string>,
  ) {}

  /** Add a subscriber; the first one connects (and its failure to connect is reported to it). */
  async subscribe(onWake: () => void): Promise<() => Promise<void>> {
    if (this.closed) throw new Error("the store is closed");
    this.callbacks.add(onWake);
    try {
      await this.ensureConnected();
    } catch (error) {
      this.callbacks.delete(onWake);
      throw error;
    }
    return async () => {
      this.callbacks.delete(onWake);
      if (this.callbacks.size === 0) await this.disconnect();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.callbacks.clear();
    await this.disconnect();
  }

  private ensureConnected(): Promise<void> {
    if (this.client) return Promise.resolve();
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<void> {
    const schema = await this.schema();
    const client = new pg.Client(this.config);
    client.on("error", () => this.lost(client));
    client.on("end", () => this.lost(client));
    client.on("notification", (msg) => {
      if (msg.channel === WAKEUP_CHANNEL && msg.payload === schema) this.fire();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${WAKEUP_CHANNEL}`);
    } catch (error) {
      await client.end().catch(noop);
      throw error;
    }
    if (this.closed || this.callbacks.size === 0) {
      await client.end().catch(noop);
      return;
    }
    this.client = client;
    this.delayMs = 100;
  }

  private lost(client: pg.Client): void {
    if (client !== this.client) return;
    this.client = undefined;
    client.end().catch(noop);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.callbacks.size === 0 || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed || this.callbacks.size === 0) return;
      this.ensureConnected().then(
        () => this.fire(),
        () => {
          this.delayMs = Math.min(this.delayMs * 2, 5_000);
          this.scheduleReconnect();
        },
      );
    }, this.delayMs);
  }

  private fire(): void {
    for (const onWake of [...this.callbacks]) {
      try {
        onWake();
      } catch {
        // a subscriber's fault must not stop the others from waking
      }
    }
  }

  private async disconnect(): Promise<void> {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    await this.connecting?.catch(noop);
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(noop);
  }
}
