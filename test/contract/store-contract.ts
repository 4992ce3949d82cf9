// The behaviour every Store backend must share, as src/store/store.ts documents it and SqliteStore
// implements it. A backend's test file calls storeContract with a factory of fresh, empty stores.
import { afterEach, beforeEach, describe } from "node:test";
import type { Store } from "../../src/store/store.js";
import { claimsContract } from "./claims-contract.js";
import { contractHelpers } from "./helpers.js";
import { listContract } from "./list-contract.js";
import { retryContract } from "./retry-contract.js";
import { runOpsContract } from "./run-ops-contract.js";
import { taskContract } from "./task-contract.js";

export { T0 } from "./helpers.js";

export interface StoreHandle {
  /** A fresh, empty store (not migrated yet: the suite calls migrate()). */
  store: Store;
  /** Close the store and remove its data. */
  cleanup(): Promise<void>;
}

export function storeContract(label: string, makeStore: () => Promise<StoreHandle>): void {
  describe(`Store contract: ${label}`, () => {
    let handle: StoreHandle;
    let store: Store;

    beforeEach(async () => {
      handle = await makeStore();
      store = handle.store;
      await store.migrate();
    });

    afterEach(async () => {
      await handle.cleanup();
    });

    const h = contractHelpers(() => store);
    runOpsContract(h);
    claimsContract(h);
    listContract(h);
    retryContract(h);

    describe("task queues, schedules and definitions", () => {
      taskContract(() => store);
    });
  });
}
