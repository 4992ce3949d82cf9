// Demo payments service: captures charges and refunds them.
// Behaves like a real payment API with respect to Idempotency-Key (see service.ts).
import { asObject, createDemoService, type DemoService, invalidBody, isNonEmptyString } from "./service.js";

export interface Charge {
  id: string;
  orderId: string;
  amount: number;
  status: "captured" | "refunded";
}

export interface Refund {
  id: string;
  chargeId: string;
  status: "refunded";
}

export interface PaymentsService extends DemoService {
  charges: Map<string, Charge>;
  refunds: Map<string, Refund>;
}

export function createPaymentsService(): PaymentsService {
  const charges = new Map<string, Charge>();
  const refunds = new Map<string, Refund>();
  let chargeSeq = 0;
  let refundSeq = 0;

  const service = createDemoService("payments", [
    {
      method: "POST",
      url: "/charges",
      mutates: true,
      handler: ({ body }) => {
        const input = asObject(body);
        if (!input || !isNonEmptyString(input.orderId)) {
          return invalidBody("orderId (non-empty string) is required");
        }
        if (typeof input.amount !== "number" || !Number.isFinite(input.amount) || input.amount <= 0) {
          return invalidBody("amount (positive number) is required");
        }
        const charge: Charge = {
          id: `ch_${++chargeSeq}`,
          orderId: input.orderId,
          amount: input.amount,
          status: "captured",
        };
        charges.set(charge.id, charge);
        // Return a copy so a later refund does not rewrite a response stored in the ledger.
        return { status: 201, body: { ...charge } };
      },
    },
    {
      method: "POST",
      url: "/refunds",
      mutates: true,
      handler: ({ body }) => {
        const input = asObject(body);
        if (!input || !isNonEmptyString(input.chargeId)) {
          return invalidBody("chargeId (non-empty string) is required");
        }
        const charge = charges.get(input.chargeId);
        if (!charge) {
          return { status: 404, body: { code: "CHARGE_NOT_FOUND", message: `no charge ${input.chargeId}` } };
        }
        if (charge.status === "refunded") {
          // A second refund without the same idempotency key is a caller bug; refuse rather than refund twice.
          return {
            status: 409,
            body: { code: "ALREADY_REFUNDED", message: `charge ${charge.id} is already refunded` },
          };
        }
        charge.status = "refunded";
        const refund: Refund = { id: `rf_${++refundSeq}`, chargeId: charge.id, status: "refunded" };
        refunds.set(refund.id, refund);
        return { status: 201, body: { ...refund } };
      },
    },
    {
      method: "GET",
      url: "/charges/:id",
      mutates: false,
      handler: ({ params }) => {
        const charge = charges.get(params.id);
        return charge
          ? { status: 200, body: { ...charge } }
          : { status: 404, body: { code: "CHARGE_NOT_FOUND", message: `no charge ${params.id}` } };
      },
    },
  ]);

  return Object.assign(service, { charges, refunds });
}
