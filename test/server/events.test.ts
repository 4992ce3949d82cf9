// GET /api/v1/events: the live feed of engine events as Server-Sent Events, over real HTTP.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Agent, request } from "undici";
import { STREAMED_EVENTS } from "../../src/server/routes/events.js";
import { eventually, type ServerFixture, serverFixture } from "./helpers.js";

interface SseEvent {
  event: string;
  data: any;
}

/** An open event stream: parses frames as they come; `comments` counts comment lines. */
class EventStream {
  readonly events: SseEvent[] = [];
  comments = 0;
  ended = false;
  status = 0;
  contentType = "";
  private readonly agent = new Agent();
  private readonly abort = new AbortController();
  private done!: Promise<void>;

  static async open(base: string, query = ""): Promise<EventStream> {
    const s = new EventStream();
    const res = await request(`${base}/api/v1/events${query}`, {
      dispatcher: s.agent,
      signal: s.abort.signal,
    });
    s.status = res.statusCode;
    s.contentType = String(res.headers["content-type"]);
    s.done = s.read(res.body);
    return s;
  }

  private async read(body: AsyncIterable<Buffer>): Promise<void> {
    let buffer = "";
    try {
      for await (const chunk of body) {
        buffer += chunk.toString("utf8");
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf("\n\n");
          let event = "";
          let data = "";
          for (const line of frame.split("\n")) {
            if (line.startsWith(":")) this.comments++;
            else if (line.startsWith("event: ")) event = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (event) this.events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted by close()
    }
    this.ended = true;
  }

  of(runId: string): string[] {
    return this.events.filter((e) => e.data.runId === runId).map((e) => e.event);
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
    await this.agent.close();
  }

  async untilEnded(): Promise<void> {
    await this.done;
    await this.agent.close();
  }
}

let f: ServerFixture;
before(async () => {
  f = await serverFixture();
});
after(async () => {
  await f.close();
});

describe("GET /api/v1/events", () => {
  test("streams a run's events from run:created to run:finished, then unsubscribes when the client leaves", async () => {
    // Other listeners (metrics, tracing) stay; the stream's own must come off when it closes.
    const before = STREAMED_EVENTS.map((type) => f.server.engine.events.listenerCount(type));
    const stream = await EventStream.open(f.server.url);
    assert.equal(stream.status, 200);
    assert.match(stream.contentType, /^text\/event-stream/);
    await eventually(() => stream.comments > 0, "the opening comment");
    await f.http.start("echo", { hello: 1 }, { runId: "sse-1" });
    await eventually(() => stream.of("sse-1").includes("run:finished"), "run:finished of sse-1");
    assert.deepEqual(stream.of("sse-1"), ["run:created", "run:claimed", "step:completed", "run:finished"]);
    const step = stream.events.find((e) => e.event === "step:completed" && e.data.runId === "sse-1")!;
    assert.equal(step.data.name, "echo");
    assert.equal(step.data.seq, 0);
    const finished = stream.events.find((e) => e.event === "run:finished" && e.data.runId === "sse-1")!;
    assert.equal(finished.data.status, "completed");
    assert.equal(finished.data.workflow, "echo");

    await f.http.start("fails", null, { runId: "sse-2" });
    await eventually(() => stream.of("sse-2").includes("run:finished"), "run:finished of sse-2");
    assert.ok(stream.of("sse-2").includes("step:failed"));
    const failed = stream.events.find((e) => e.event === "run:finished" && e.data.runId === "sse-2")!;
    assert.equal(failed.data.status, "failed");
    assert.equal(failed.data.error.code, "STEP_FAILED");

    STREAMED_EVENTS.forEach((type, i) => {
      assert.ok(f.server.engine.events.listenerCount(type) > before[i], `listening to ${type}`);
    });
    await stream.close();
    await eventually(
      () => STREAMED_EVENTS.every((type, i) => f.server.engine.events.listenerCount(type) === before[i]),
      "the listeners to be removed",
    );
  });

  test("?runId= keeps only that run's events", async () => {
    const stream = await EventStream.open(f.server.url, "?runId=sse-only");
    await eventually(() => stream.comments > 0, "the opening comment");
    await f.http.start("echo", 1, { runId: "sse-other" });
    await f.http.start("echo", 2, { runId: "sse-only" });
    await f.http.result("sse-other");
    await eventually(() => stream.of("sse-only").includes("run:finished"), "run:finished of sse-only");
    assert.deepEqual([...new Set(stream.events.map((e) => e.data.runId))], ["sse-only"]);
    await stream.close();
  });

  test("bad query parameters are 400 before any stream opens", async () => {
    for (const q of ["?runId=", "?other=1", `?runId=${"x".repeat(201)}`]) {
      const res = await f.raw.get(`/api/v1/events${q}`);
      assert.equal(res.status, 400, q);
      assert.equal(res.json.code, "INVALID_ARGUMENT");
    }
    assert.equal((await f.raw.send("HEAD", "/api/v1/events")).status, 404);
  });

  test("every stream ends when the server shuts down, and the shutdown does not wait for them", async () => {
    const g = await serverFixture();
    const streams = [await EventStream.open(g.server.url), await EventStream.open(g.server.url)];
    await eventually(() => streams.every((s) => s.comments > 0), "the streams to open");
    const t0 = Date.now();
    await g.close();
    await Promise.all(streams.map((s) => s.untilEnded()));
    assert.ok(streams.every((s) => s.ended));
    assert.ok(Date.now() - t0 < 5_000, "closed promptly");
  });
});
