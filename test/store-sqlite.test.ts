// The store contract on SQLite: a fresh database file per test.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { storeContract } from "./contract/store-contract.js";

storeContract("SQLite", async () => {
  const dir = await mkdtemp(join(tmpdir(), "dirigent-store-"));
  const store = new SqliteStore({ path: join(dir, "test.db") });
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
