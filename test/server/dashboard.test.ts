// The built dashboard served at /, with the single-page-app fallback, next to the API.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ServerFixture, serverFixture } from "./helpers.js";

const PAGE = "<!doctype html><title>Dirigent</title><div id=app></div>";
let dist: string;
let f: ServerFixture;
before(async () => {
  dist = mkdtempSync(join(tmpdir(), "dirigent-dashboard-"));
  mkdirSync(join(dist, "assets"));
  writeFileSync(join(dist, "index.html"), PAGE);
  writeFileSync(join(dist, "assets", "app-1234.js"), "console.log('dashboard')");
  f = await serverFixture({ dashboardDir: dist });
});
after(async () => {
  await f.close();
  rmSync(dist, { recursive: true, force: true });
});

/** A raw request line, for paths a URL parser would normalise (dot segments). */
function rawGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = "";
    const socket = connect(port, "127.0.0.1", () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    socket.on("data", (d) => {
      data += d;
    });
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}

describe("dashboard", () => {
  test("/ and the assets are served from the built folder", async () => {
    const page = await f.raw.get("/");
    assert.equal(page.status, 200);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assert.equal(page.text, PAGE);
    assert.equal(page.headers["cache-control"], "no-cache");
    const asset = await f.raw.get("/assets/app-1234.js");
    assert.equal(asset.status, 200);
    assert.match(String(asset.headers["content-type"]), /javascript/);
    assert.equal(asset.headers["cache-control"], "public, max-age=31536000, immutable");
  });

  test("client-side routes get the page (single-page app fallback)", async () => {
    for (const path of ["/runs", "/runs/order-17", "/queues/shipping?tab=workers", "/schedules/nightly"]) {
      const res = await f.raw.get(path);
      assert.equal(res.status, 200, path);
      assert.equal(res.text, PAGE, path);
    }
  });

  test("the API, docs and probes are untouched; unknown API paths still get the JSON 404", async () => {
    assert.equal((await f.raw.get("/healthz")).json.status, "ok");
    assert.equal((await f.raw.get("/openapi.json")).status, 200);
    assert.match((await f.raw.get("/docs")).text, /swagger/i);
    assert.ok(Array.isArray((await f.raw.get("/api/v1/workflows")).json.workflows));
    for (const path of ["/api/v1/nope", "/api", "/api/v2/runs", "/docs/nope", "/metrics/x"]) {
      const res = await f.raw.get(path);
      assert.equal(res.status, 404, path);
      assert.equal(res.json.code, "ROUTE_NOT_FOUND", path);
    }
    const post = await f.raw.post("/", { a: 1 });
    assert.equal(post.status, 404);
    assert.equal(post.json.code, "ROUTE_NOT_FOUND");
  });

  test("nothing outside the folder is served", async () => {
    for (const path of [
      "/../../../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/assets/..%2f..%2fpackage.json",
    ]) {
      const answer = await rawGet(f.server.port, path);
      assert.doesNotMatch(answer, /root:|"name": "dirigent"/, path);
    }
    for (const path of ["/%zz", "/runs/%E0%A4%A", "/api/v1/%zz"]) {
      const bad = await f.raw.get(path);
      assert.equal(bad.status, 400, path);
      assert.equal(bad.json.code, "INVALID_ARGUMENT", path);
    }
  });

  test("a folder without index.html is not served", async () => {
    const empty = mkdtempSync(join(tmpdir(), "dirigent-dashboard-empty-"));
    const g = await serverFixture({ dashboardDir: empty });
    try {
      const res = await g.raw.get("/");
      assert.equal(res.status, 404);
      assert.equal(res.json.code, "ROUTE_NOT_FOUND");
    } finally {
      await g.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
