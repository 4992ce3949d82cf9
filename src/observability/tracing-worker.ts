// The tracing worker thread: receives batches of span records from the engine's thread, encodes and
// exports them, so that building, encoding and sending spans costs the engine's thread nothing but
// filling typed arrays. Protocol: see WorkerSink in span-sink.ts.
import { parentPort, workerData } from "node:worker_threads";
import type { ExportConfig } from "./export-config.js";
import { createRecordWriter } from "./record-writer.js";
import type { WorkerReply, WorkerRequest } from "./span-sink.js";

const port = parentPort!;
const writer = createRecordWriter((workerData as { config: ExportConfig }).config);

function reply(message: WorkerReply): void {
  port.postMessage(message);
}

port.on("message", (message: WorkerRequest) => {
  if (message.type === "records") {
    try {
      writer.writeColumns(message.columns);
    } catch (error) {
      reply({ type: "error", message: `span records: ${String(error)}` });
    }
    reply({ type: "ack", taken: message.columns.count, counts: { ...writer.counts } });
    return;
  }
  const done = message.type === "flush" ? writer.forceFlush() : writer.shutdown();
  done.then(
    () => reply({ type: "done", id: message.id, counts: { ...writer.counts } }),
    (error) => reply({ type: "done", id: message.id, counts: { ...writer.counts }, error: String(error) }),
  );
});
