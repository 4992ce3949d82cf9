// Runs the demo services of the "place an order" example:
//   npx tsx examples/order/services/main.ts
// Ports come from PAYMENTS_PORT, SHIPPING_PORT and NOTIFY_PORT (defaults 4101/4102/4103).
import { startOrderServices } from "./index.js";

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") {
    return fallback;
  }
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number, got "${raw}"`);
  }
  return port;
}

const running = await startOrderServices({
  ports: {
    payments: portFromEnv("PAYMENTS_PORT", 4101),
    shipping: portFromEnv("SHIPPING_PORT", 4102),
    notifications: portFromEnv("NOTIFY_PORT", 4103),
  },
});

console.log(`payments       ${running.payments}`);
console.log(`shipping       ${running.shipping}`);
console.log(`notifications  ${running.notifications}`);

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    return;
  }
  stopping = true;
  console.log(`${signal} received, closing services`);
  try {
    await running.close();
  } catch (error) {
    console.error("error while closing services:", error);
    process.exitCode = 1;
  }
  // No explicit exit: once the servers are closed nothing keeps the event loop alive.
}

// `once`, so a second Ctrl-C falls back to Node's default and kills the process.
process.once("SIGINT", (signal) => void shutdown(signal));
process.once("SIGTERM", (signal) => void shutdown(signal));
