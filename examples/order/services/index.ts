// Starts the three demo services of the "place an order" example in-process.
import { createNotificationsService, type NotificationsService } from "./notifications.js";
import { createPaymentsService, type PaymentsService } from "./payments.js";
import { createShippingService, type ShippingService } from "./shipping.js";

export { createNotificationsService } from "./notifications.js";
export { createPaymentsService } from "./payments.js";
export type { DemoRoute, DemoService, FaultSettings, LedgerSnapshot } from "./service.js";
export { createDemoService } from "./service.js";
export { createShippingService } from "./shipping.js";

export interface OrderServicePorts {
  payments?: number;
  shipping?: number;
  notifications?: number;
}

export interface StartOrderServicesOptions {
  /** Ports to listen on; 0 (the default) picks a free port, which is what tests want. */
  ports?: OrderServicePorts;
  host?: string;
}

export interface OrderServices {
  payments: string;
  shipping: string;
  notifications: string;
  services: {
    payments: PaymentsService;
    shipping: ShippingService;
    notifications: NotificationsService;
  };
  close(): Promise<void>;
}

export async function startOrderServices(options: StartOrderServicesOptions = {}): Promise<OrderServices> {
  const { ports = {}, host = "127.0.0.1" } = options;
  const services = {
    payments: createPaymentsService(),
    shipping: createShippingService(),
    notifications: createNotificationsService(),
  };
  const close = async (): Promise<void> => {
    await Promise.all(Object.values(services).map((service) => service.close()));
  };
  try {
    const [payments, shipping, notifications] = await Promise.all([
      services.payments.listen(ports.payments ?? 0, host),
      services.shipping.listen(ports.shipping ?? 0, host),
      services.notifications.listen(ports.notifications ?? 0, host),
    ]);
    return { payments, shipping, notifications, services, close };
  } catch (error) {
    // One port was taken: do not leave the other servers running behind the caller's back.
    await close();
    throw error;
  }
}
