// The "place an order" process of the seed, as a Dirigent workflow: charge the customer, ship the
// goods, confirm by email. If shipping fails for good, the charge is refunded (saga compensation).
//
// The services' base URLs come from the factory (createOrderWorkflows) or from the run's input; this
// module never reads the environment.
import { z } from "zod";
import { RetryableError, TerminalError } from "../../src/core/errors.js";
import type { RetryPolicy } from "../../src/core/retry.js";
import type { StepInfo } from "../../src/runtime/context.js";
import { type WorkflowDefinition, workflow } from "../../src/runtime/workflow.js";

export interface OrderServiceUrls {
  paymentsUrl: string;
  shippingUrl: string;
  notifyUrl: string;
}

export interface Order {
  orderId: string;
  amount: number;
  address: string | Record<string, unknown>;
  email: string;
  /** Where the services are, when the workflow was not created with them. */
  services?: OrderServiceUrls;
}

export interface OrderResult {
  orderId: string;
  chargeId: string;
  shipmentId: string;
  tracking: string;
  emailId: string;
}

export interface OrderWorkflowOptions extends Partial<OrderServiceUrls> {
  /** Retry policy of the steps; the default retries quickly so the demo does not keep you waiting. */
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout of each HTTP call. */
  timeoutMs?: number;
}

export const DEFAULT_ORDER_RETRY: Partial<RetryPolicy> = {
  maxAttempts: 4,
  initialIntervalMs: 50,
  backoffCoefficient: 2,
  maxIntervalMs: 500,
};

const urls = z.object({ paymentsUrl: z.url(), shippingUrl: z.url(), notifyUrl: z.url() });

/**
 * Create the order workflows, bound to the given services (each may instead come in the input).
 *
 * @example
 * const { placeOrder } = createOrderWorkflows({ paymentsUrl, shippingUrl, notifyUrl });
 * const engine = createEngine({ store, workflows: [placeOrder] });
 * await engine.startRun("place-order", { orderId: "o-1", amount: 42, address: "1 Main St", email: "a@b.c" });
 */
export function createOrderWorkflows(options: OrderWorkflowOptions = {}): {
  placeOrder: WorkflowDefinition<Order, OrderResult>;
  workflows: WorkflowDefinition[];
} {
  const { retry = DEFAULT_ORDER_RETRY, timeoutMs = 5_000, ...bound } = options;
  const hasBoundUrls =
    bound.paymentsUrl !== undefined && bound.shippingUrl !== undefined && bound.notifyUrl !== undefined;
  const input = z.object({
    orderId: z.string().min(1),
    amount: z.number().positive(),
    address: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
    email: z.string().min(3),
    services: hasBoundUrls ? urls.optional() : urls,
  }) as z.ZodType<Order>;

  const placeOrder = workflow<Order, OrderResult>(
    "place-order",
    async (ctx, order) => {
      const svc = order.services ?? (bound as OrderServiceUrls);
      const charge = await ctx.step(
        "charge",
        (info) =>
          postJson<{ id: string }>(
            `${svc.paymentsUrl}/charges`,
            { orderId: order.orderId, amount: order.amount },
            info,
          ),
        {
          timeoutMs,
          undo: (c, info) => postJson(`${svc.paymentsUrl}/refunds`, { chargeId: c.id }, info),
        },
      );
      const shipment = await ctx.step(
        "ship",
        (info) =>
          postJson<{ id: string; tracking: string }>(
            `${svc.shippingUrl}/shipments`,
            { orderId: order.orderId, address: order.address },
            info,
          ),
        { timeoutMs },
      );
      const email = await ctx.step(
        "confirm",
        (info) =>
          postJson<{ id: string }>(
            `${svc.notifyUrl}/emails`,
            {
              to: order.email,
              subject: `Order ${order.orderId} is on its way`,
              body: `Tracking: ${shipment.tracking}`,
            },
            info,
          ),
        { timeoutMs },
      );
      return {
        orderId: order.orderId,
        chargeId: charge.id,
        shipmentId: shipment.id,
        tracking: shipment.tracking,
        emailId: email.id,
      };
    },
    { input, retry },
  );
  return { placeOrder, workflows: [placeOrder] };
}

/** The workflow without bound URLs: every run names its services in `input.services`. */
export const placeOrder = createOrderWorkflows().placeOrder;

/**
 * POST JSON with the step's idempotency key, so a retried or repeated call is applied once.
 * 5xx and 429 answers (and network errors) are retried; any other non-2xx answer is terminal.
 */
export async function postJson<T = unknown>(url: string, body: unknown, info: StepInfo): Promise<T> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": info.idempotencyKey },
    body: JSON.stringify(body),
    signal: info.signal,
  });
  const text = await response.text();
  let payload: unknown = text;
  try {
    payload = text === "" ? undefined : JSON.parse(text);
  } catch {
    // Not JSON: keep the text for the error message.
  }
  if (response.ok) return payload as T;
  const message = `POST ${url} answered ${response.status}: ${typeof payload === "string" ? payload : JSON.stringify(payload)}`;
  if (response.status >= 500 || response.status === 429) {
    throw new RetryableError(message, {
      retryAfterMs: retryAfterMs(response.headers.get("retry-after")),
      code: `HTTP_${response.status}`,
    });
  }
  throw new TerminalError(message, {
    code: `HTTP_${response.status}`,
    details: { status: response.status, body: payload },
  });
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1_000 : undefined;
}
