import { CloudEvent, HTTP } from "cloudevents";
import { request } from "undici";
import type { Clock, TimerHandle } from "../../core/clock.js";
import type { ResolvedAlertsConfig } from "./rules.js";

/** One notification, encoded once and delivered identically (same id) on every attempt. */
export interface Notification {
  /** CloudEvents id: stable for one alert firing (or its resolution), so receivers can dedupe. */
  id: string;
  /** Alert key: notifications of one key are delivered in order (firing before resolved). */
  key: string;
  headers: Record<string, string>;
  body: string;
}

export type DeliveryState = "pending" | "delivered" | "failed";

/**
 * Build a CloudEvents 1.0 event in structured mode (`application/cloudevents+json`): the whole event,
 * attributes and data, is the JSON body.
 */
export function cloudEvent(attrs: {
  id: string;
  key: string;
  source: string;
  type: string;
  subject: string;
  time: number;
  data: Record<string, unknown>;
}): Notification {
  const event = new CloudEvent({
    specversion: "1.0",
    id: attrs.id,
    source: attrs.source,
    type: attrs.type,
    subject: attrs.subject,
    time: new Date(attrs.time).toISOString(),
    datacontenttype: "application/json",
    data: attrs.data,
  });
  const message = HTTP.structured(event);
  return {
    id: attrs.id,
    key: attrs.key,
    headers: message.headers as Record<string, string>,
    body: String(message.body),
  };
}

/**
 * Delivers notifications to webhooks: POST, success on 2xx, otherwise retried with exponential backoff
 * (on the injected clock) up to `maxAttempts`; 4xx other than 408 and 429 are not retried (the receiver
 * refuses the event itself). Notifications of one alert key go out in order, one at a time, per
 * webhook; once one was delivered it is never sent again. Each request carries `Idempotency-Key: <id>`.
 */
export class WebhookDelivery {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly sleeping = new Set<{ handle: TimerHandle; wake: () => void }>();
  private readonly inflight = new Set<AbortController>();
  private stopped = false;

  constructor(
    private readonly config: Pick<ResolvedAlertsConfig, "webhooks" | "delivery">,
    private readonly clock: Clock,
    private readonly onState: (id: string, url: string, state: DeliveryState, attempts: number) => void,
  ) {}

  send(n: Notification): void {
    for (const hook of this.config.webhooks) {
      const chainKey = `${hook.url}\u0000${n.key}`;
      this.onState(n.id, hook.url, "pending", 0);
      const prev = this.chains.get(chainKey) ?? Promise.resolve();
      const next: Promise<void> = prev
        .then(() => this.deliver(n, hook))
        .catch(() => {})
        .finally(() => {
          if (this.chains.get(chainKey) === next) this.chains.delete(chainKey);
        });
      this.chains.set(chainKey, next);
    }
  }

  /** Resolves when nothing is queued or waiting (a retry waits on the clock). */
  async idle(): Promise<void> {
    while (this.chains.size) await Promise.allSettled([...this.chains.values()]);
  }

  /** Stop: waiting retries give up at once, requests in flight are aborted. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.sleeping) {
      this.clock.clearTimeout(s.handle);
      s.wake();
    }
    for (const c of this.inflight) c.abort();
    await this.idle();
  }

  private async deliver(n: Notification, hook: ResolvedAlertsConfig["webhooks"][number]): Promise<void> {
    const { maxAttempts, initialBackoffMs, maxBackoffMs } = this.config.delivery;
    for (let attempt = 1; attempt <= maxAttempts && !this.stopped; attempt++) {
      const outcome = await this.post(n, hook);
      if (outcome === "ok") {
        this.onState(n.id, hook.url, "delivered", attempt);
        return;
      }
      if (outcome === "permanent" || attempt === maxAttempts || this.stopped) break;
      this.onState(n.id, hook.url, "pending", attempt);
      await this.sleep(Math.min(maxBackoffMs, initialBackoffMs * 2 ** (attempt - 1)));
    }
    this.onState(n.id, hook.url, "failed", maxAttempts);
  }

  private async post(
    n: Notification,
    hook: ResolvedAlertsConfig["webhooks"][number],
  ): Promise<"ok" | "retry" | "permanent"> {
    const controller = new AbortController();
    this.inflight.add(controller);
    try {
      const res = await request(hook.url, {
        method: "POST",
        headers: { ...hook.headers, ...n.headers, "idempotency-key": n.id },
        body: n.body,
        signal: AbortSignal.any([controller.signal, AbortSignal.timeout(hook.timeoutMs)]),
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return "ok";
      const permanent =
        res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 408 && res.statusCode !== 429;
      return permanent ? "permanent" : "retry";
    } catch {
      return "retry";
    } finally {
      this.inflight.delete(controller);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped) {
        resolve();
        return;
      }
      const entry = {
        handle: this.clock.setTimeout(() => {
          this.sleeping.delete(entry);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.sleeping.add(entry);
    });
  }
}
