// The demo `dirigent dev` brings up: the "place an order" services and workflows of examples/order, and
// its YAML version when the declarative language is there. Loaded by URL at run time (examples/ is not
// a layer of src/), so a copy of Dirigent without the examples still runs `dirigent dev`, without them.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Engine } from "../runtime/engine.js";
import type { WorkflowDefinition } from "../runtime/workflow.js";

const EXAMPLES = new URL("../../examples/order/", import.meta.url);

/** The module at `base` + .ts (run through tsx) or + .js (compiled), whichever exists. */
function moduleUrl(base: URL | string, relative: string): URL | undefined {
  for (const ext of [".ts", ".js"]) {
    const url = new URL(`${relative}${ext}`, base);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return undefined;
}

/** Fixed ports make the printed commands stable across restarts; taken ports fall back to free ones. */
export const DEMO_PORTS = { payments: 4101, shipping: 4102, notifications: 4103 };

export interface OrderDemo {
  services: { payments: string; shipping: string; notifications: string };
  workflows: WorkflowDefinition[];
  close(): Promise<void>;
}

interface ServicesModule {
  startOrderServices(options: {
    ports?: Partial<typeof DEMO_PORTS>;
    host?: string;
  }): Promise<{ payments: string; shipping: string; notifications: string; close(): Promise<void> }>;
}

interface WorkflowModule {
  createOrderWorkflows(urls: { paymentsUrl: string; shippingUrl: string; notifyUrl: string }): {
    workflows: WorkflowDefinition[];
  };
}

/** Start the three demo services and create the order workflows bound to them; undefined without examples/. */
export async function startOrderDemo(host = "127.0.0.1"): Promise<OrderDemo | undefined> {
  const servicesUrl = moduleUrl(EXAMPLES, "services/index");
  const workflowUrl = moduleUrl(EXAMPLES, "workflow");
  if (!servicesUrl || !workflowUrl) return undefined;
  const { startOrderServices } = (await import(servicesUrl.href)) as ServicesModule;
  const { createOrderWorkflows } = (await import(workflowUrl.href)) as WorkflowModule;
  let running: Awaited<ReturnType<ServicesModule["startOrderServices"]>>;
  try {
    running = await startOrderServices({ ports: DEMO_PORTS, host });
  } catch (error) {
    if ((error as { code?: string }).code !== "EADDRINUSE") throw error;
    running = await startOrderServices({ host });
  }
  const { workflows } = createOrderWorkflows({
    paymentsUrl: running.payments,
    shippingUrl: running.shipping,
    notifyUrl: running.notifications,
  });
  return {
    services: {
      payments: running.payments,
      shipping: running.shipping,
      notifications: running.notifications,
    },
    workflows,
    close: () => running.close(),
  };
}

interface DslModule {
  deployDefinition?: (
    engine: Engine,
    source: string,
    options: { file?: string },
  ) => Promise<{ name: string; version: number }>;
  loadDefinitions?: (engine: Engine) => Promise<unknown>;
}

/**
 * Deploy examples/order/place-order.yaml when the declarative language (src/dsl, deployDefinition) is
 * there; undefined, quietly, when either is missing (errors of a present one are thrown). Stored versions
 * are loaded first, so runs started on an older version of the file keep theirs.
 */
export async function deployOrderYaml(
  engine: Engine,
): Promise<{ name: string; version: number } | undefined> {
  const file = new URL("place-order.yaml", EXAMPLES);
  if (!existsSync(fileURLToPath(file))) return undefined;
  const index = moduleUrl(import.meta.url, "../dsl/index");
  if (!index) return undefined;
  const dsl = (await import(index.href)) as DslModule;
  if (typeof dsl.deployDefinition !== "function") return undefined;
  await dsl.loadDefinitions?.(engine);
  const path = fileURLToPath(file);
  return dsl.deployDefinition(engine, readFileSync(path, "utf8"), {
    file: "examples/order/place-order.yaml",
  });
}
