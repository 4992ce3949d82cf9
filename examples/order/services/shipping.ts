// Demo shipping service: books a shipment for an order and hands back a tracking number.
import { asObject, createDemoService, type DemoService, invalidBody, isNonEmptyString } from "./service.js";

export interface Shipment {
  id: string;
  orderId: string;
  address: unknown;
  tracking: string;
}

export interface ShippingService extends DemoService {
  shipments: Map<string, Shipment>;
}

export function createShippingService(): ShippingService {
  const shipments = new Map<string, Shipment>();
  let seq = 0;

  const service = createDemoService("shipping", [
    {
      method: "POST",
      url: "/shipments",
      mutates: true,
      handler: ({ body }) => {
        const input = asObject(body);
        if (!input || !isNonEmptyString(input.orderId)) {
          return invalidBody("orderId (non-empty string) is required");
        }
        // An address may be a one-line string or a structured object; either is fine for a demo.
        const address = input.address;
        const validAddress = isNonEmptyString(address) || asObject(address) !== undefined;
        if (!validAddress) {
          return invalidBody("address (string or object) is required");
        }
        const n = ++seq;
        const shipment: Shipment = { id: `sh_${n}`, orderId: input.orderId, address, tracking: `TRK${n}` };
        shipments.set(shipment.id, shipment);
        return {
          status: 201,
          body: { id: shipment.id, orderId: shipment.orderId, tracking: shipment.tracking },
        };
      },
    },
  ]);

  return Object.assign(service, { shipments });
}
