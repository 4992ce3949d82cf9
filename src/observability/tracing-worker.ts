// The tracing worker thread: receives batches of span records from the engine's thread, turns them into
// OpenTelemetry spans and exports them, so that building, encoding and sending spans costs the engine's
// thread nothing but appending values to an array. Protocol: see WorkerSink in span-sink.ts.
import { parentPort, workerData } from "node:worker_threads";
import { forEachRecord } from "./span-records.js";
import type { WorkerReply, WorkerRequest } from "./span-sink.js";
import { type ExportConfig, SpanWriter } from "./span-writer.js";

const port = parentPort!;
const writer = new SpanWriter((workerData as { config: ExportConfig }).config);

function reply(message: WorkerReply): void {
  port.postMessage(message);
}

port.on("message", (message: WorkerRequest) => {
  if (message.type === "records") {
    let written = 0;
    forEachRecord(message.records, (r) => {
      try {
        writer.write(r);
      } catch (error) {
        reply({ type: "error", message: `span of run ${r.runId}: ${String(error)}` });
      }
      written++;
    });
    reply({ type: "ack", written, counts: { ...writer.counts } });
    return;
  }
  const done = message.type === "flush" ? writer.forceFlush() : writer.shutdown();
  done.then(
    () => reply({ type: "done", id: message.id, counts: { ...writer.counts } }),
    (error) => reply({ type: "done", id: message.id, counts: { ...writer.counts }, error: String(error) }),
  );
});
