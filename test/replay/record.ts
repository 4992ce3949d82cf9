// Records a fixture: `npx tsx test/replay/record.ts` runs replay-order until it waits for its
// approval signal and writes the run and its journal to fixtures/replay-order-v1.json.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine } from "../../src/runtime/engine.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { TestClock } from "../../src/testing/test-clock.js";
import { replayOrder } from "./workflows.js";

const store = new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), "record-")), "r.db") });
const clock = new TestClock();
const engine = createEngine({ store, clock, workflows: [replayOrder], nodeId: "recorder" });
await engine.start();
const { runId } = await engine.startRun("replay-order", { id: "o-7", amount: 42 }, { runId: "fixture-1" });
const waitFor = async (status: string) => {
  while ((await store.getRun(runId))?.status !== status) await new Promise((r) => setTimeout(r, 5));
};
await waitFor("waiting");
await clock.advance(3_600_000);
await new Promise((r) => setTimeout(r, 50));
await waitFor("waiting");
const fixture = { run: await store.getRun(runId), journal: await store.loadJournal(runId) };
writeFileSync(
  new URL("./fixtures/replay-order-v1.json", import.meta.url),
  `${JSON.stringify(fixture, null, 2)}\n`,
);
await engine.stop();
await store.close();
console.log(`recorded ${fixture.journal.length} entries`);
