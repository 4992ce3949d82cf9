import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { HttpClient } from "../../src/client/http-client.js";
import { isDirigentError } from "../../src/core/errors.js";

// A stand-in server whose answers the test chooses, to see how HttpClient rebuilds errors.
let answer: { status: number; type: string; body: string } = {
  status: 200,
  type: "application/json",
  body: "{}",
};
let seen: { method?: string; url?: string; type?: string; body: string }[] = [];
let server: Server;
let address: string;

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => {
      body += d;
    });
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, type: req.headers["content-type"], body });
      res.writeHead(answer.status, { "content-type": answer.type });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function failure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    assert.ok(isDirigentError(error), String(error));
    return error;
  }
  assert.fail("expected an error");
}

test("server errors come back with their code, message and details, unknown codes included", async () => {
  const client = new HttpClient({ address });
  try {
    answer = {
      status: 418,
      type: "application/json",
      body: JSON.stringify({ code: "SOMETHING_NEW", message: "a future code", details: { a: [1] } }),
    };
    const e = await failure(client.describe("x"));
    assert.equal(e.code, "SOMETHING_NEW");
    assert.equal(e.message, "a future code");
    assert.deepEqual(e.details, { a: [1] });

    answer = { status: 502, type: "text/html", body: "<h1>Bad gateway</h1>" };
    const proxy = await failure(client.workflows());
    assert.equal(proxy.code, "SERVER_UNAVAILABLE");
    assert.match(proxy.message, /502/);

    answer = { status: 200, type: "text/plain", body: "hello" };
    assert.equal((await failure(client.workflows())).code, "INTERNAL");
  } finally {
    await client.close();
  }
});

test("requests: paths percent-encoded, JSON bodies only when there is a body, list filters as query", async () => {
  const client = new HttpClient({ address: `${address}/` });
  try {
    seen = [];
    answer = { status: 200, type: "application/json", body: JSON.stringify({ runs: [] }) };
    await client.list({
      status: ["running", "waiting"],
      workflow: "w",
      createdAfter: 5,
      createdBefore: 9,
      idContains: "ab c",
      limit: 2,
      cursor: "cur",
    });
    assert.equal(
      seen[0]?.url,
      "/api/v1/runs?status=running%2Cwaiting&workflow=w&createdAfter=5&createdBefore=9&q=ab+c&limit=2&cursor=cur",
    );
    answer = { status: 202, type: "application/json", body: "{}" };
    await client.cancel("a/b c");
    assert.equal(seen[1]?.url, "/api/v1/runs/a%2Fb%20c/cancel");
    assert.equal(seen[1]?.type, undefined, "no content type without a body");
    assert.equal(seen[1]?.body, "");
    answer = { status: 200, type: "application/json", body: JSON.stringify({ signalId: 1 }) };
    await client.signal("r", "s/t", { x: 1 });
    assert.equal(seen[2]?.url, "/api/v1/runs/r/signals/s%2Ft");
    assert.equal(seen[2]?.type, "application/json");
    assert.deepEqual(JSON.parse(seen[2]!.body), { payload: { x: 1 } });
  } finally {
    await client.close();
  }
});

test("an unreachable server gives SERVER_UNAVAILABLE; a bad address is refused at once", async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const client = new HttpClient({ address: `http://127.0.0.1:${port}`, timeoutMs: 2_000 });
  try {
    const e = await failure(client.workflows());
    assert.equal(e.code, "SERVER_UNAVAILABLE");
    assert.match(e.message, /ECONNREFUSED/);
  } finally {
    await client.close();
  }
  assert.throws(() => new HttpClient({ address: "not a url" }), { code: "INVALID_ARGUMENT" });
  assert.throws(() => new HttpClient({ address: "ftp://x" }), { code: "INVALID_ARGUMENT" });
});
