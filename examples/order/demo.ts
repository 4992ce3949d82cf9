// `npm start`: the "place an order" process end to end, in one process.
// Starts the three demo services, an engine on ./.dirigent/demo.db, and places three orders:
//   1. everything works;  2. shipping fails twice, then recovers;  3. shipping keeps failing, so the
// charge is refunded by compensation and the run fails. Prints each run's history and the services'
// idempotency ledgers, which show every effect applied exactly once.
import { mkdirSync, rmSync } from "node:fs";
import pc from "picocolors";
import { formatError, formatValue, historyTable, keyValues } from "../../src/cli/format.js";
import { LocalClient } from "../../src/client/local-client.js";
import { createEngine } from "../../src/runtime/engine.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { type OrderServices, startOrderServices } from "./services/index.js";
import { createOrderWorkflows, type Order } from "./workflow.js";

const DB_DIR = ".dirigent";
const DB_PATH = `${DB_DIR}/demo.db`;

async function control(url: string, body: unknown): Promise<void> {
  const response = await fetch(`${url}/_control`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${url}/_control answered ${response.status}`);
}

function printLedgers(services: OrderServices): void {
  console.log(pc.bold("\nIdempotency ledgers (received = calls with that key, applied = effects)"));
  for (const [name, service] of Object.entries(services.services)) {
    const ledger = service.ledger();
    console.log(`\n${pc.bold(name)}: ${ledger.calls} calls, ${ledger.effects} effects applied`);
    for (const [key, entry] of Object.entries(ledger.byKey)) {
      console.log(`  ${key.padEnd(32)} received ${entry.received}  applied ${entry.applied}`);
    }
  }
  const charges = [...services.services.payments.charges.values()];
  console.log(`\ncharges: ${charges.map((c) => `${c.id} ${c.orderId} ${c.status}`).join(", ")}`);
}

async function main(): Promise<void> {
  // A fresh database each time, so old runs pointing at old service ports are not resumed.
  mkdirSync(DB_DIR, { recursive: true });
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${DB_PATH}${suffix}`, { force: true });

  const services = await startOrderServices();
  const store = new SqliteStore({ path: DB_PATH });
  const { workflows } = createOrderWorkflows({
    paymentsUrl: services.payments,
    shippingUrl: services.shipping,
    notifyUrl: services.notifications,
  });
  const engine = createEngine({ store, workflows });
  const client = new LocalClient(engine);
  try {
    await engine.start();
    console.log(pc.bold("Dirigent demo: place an order"));
    console.log(
      keyValues([
        ["database", DB_PATH],
        ["payments", services.payments],
        ["shipping", services.shipping],
        ["notifications", services.notifications],
      ]),
    );

    const scenarios: { title: string; runId: string; before?: unknown }[] = [
      { title: "1. A normal order", runId: "demo-order-1" },
      {
        title: "2. Shipping fails twice, then recovers (retries)",
        runId: "demo-order-2",
        before: { failNext: 2 },
      },
      {
        title: "3. Shipping keeps failing (the charge is refunded)",
        runId: "demo-order-3",
        before: { failAlways: true },
      },
    ];
    for (const [i, s] of scenarios.entries()) {
      await control(services.shipping, { reset: true, ...(s.before as object) });
      const order: Order = {
        orderId: `order-${i + 1}`,
        amount: 25 * (i + 1),
        address: "1 Main St, Springfield",
        email: "ann@example.com",
      };
      await client.start("place-order", order, { runId: s.runId });
      const run = await client.result(s.runId, { timeoutMs: 30_000 });
      const history = await client.history(s.runId);
      console.log(pc.bold(`\n${s.title}`));
      console.log(
        keyValues([
          ["run id", run.runId],
          ["status", run.status === "completed" ? pc.green(run.status) : pc.red(run.status)],
          ["output", formatValue(run.output)],
          ["error", formatError(run.error)],
        ]),
      );
      console.log(historyTable(history.events));
    }
    await control(services.shipping, { reset: true });
    printLedgers(services);
    console.log(
      `\nExplore the runs with the CLI, e.g.: npm run dirigent -- --db ${DB_PATH} workflow show demo-order-3`,
    );
  } finally {
    await engine.stop();
    await store.close();
    await services.close();
  }
}

await main();
