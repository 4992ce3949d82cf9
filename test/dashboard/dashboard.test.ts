// The web dashboard in a real browser (Debian's chromium driven by playwright-core): a real server with
// the dashboard built and served at /, real runs, and a person's clicks. Screenshots of the main pages
// go to test-output/dashboard/ for a reviewer to look at.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { deployDefinition } from "../../src/dsl/index.js";
import { type RunningServer, startServer } from "../../src/server/start.js";
import { startServer as startReceiver, type TestServer } from "../observability/receivers.js";
import { dashboardWorkflows, FLAKY_BACKOFF_MS, faults, JumpClock } from "./fixtures.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ROOT = join(import.meta.dirname, "..", "..");
const DIST = join(ROOT, "dashboard", "dist");
const SHOTS = join(ROOT, "test-output", "dashboard");
const UI_TIMEOUT_MS = 15_000;

/** A declarative workflow whose input schema requires an orderId. */
const REFUND_DSL = `
name: refund-request
input:
  type: object
  required: [orderId]
  properties:
    orderId: { type: string, minLength: 1 }
steps:
  - id: approve
    set: { approved: true, orderId: "{{ input.orderId }}" }
`;

const haveChromium = existsSync(CHROMIUM);

if (!haveChromium) {
  // In CI a missing browser is a failure, not a reason to skip (.ci/run installs it); elsewhere the
  // test says it was skipped and why.
  const why = `chromium is required for the dashboard test: apt-get install chromium (looked at ${CHROMIUM})`;
  it("dashboard in a browser", { skip: process.env.CI === "true" ? false : why }, () => assert.fail(why));
}

describe("dashboard in a browser", { skip: !haveChromium }, () => {
  let server: RunningServer;
  let hook: TestServer;
  let context: BrowserContext;
  let page: Page;
  let dir: string;
  const clock = new JumpClock();
  const pageErrors: string[] = [];

  before(async () => {
    const build = spawnSync(process.execPath, [join(ROOT, "scripts", "build-dashboard-if-stale.mjs")], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(build.status, 0, `dashboard build failed:\n${build.stdout}\n${build.stderr}`);
    assert.ok(existsSync(join(DIST, "index.html")), "the build wrote dashboard/dist/index.html");
    mkdirSync(SHOTS, { recursive: true });

    dir = mkdtempSync(join(tmpdir(), "dirigent-dashboard-"));
    hook = await startReceiver(() => ({ status: 204 }));
    server = await startServer({
      databaseUrl: `sqlite:${join(dir, "dashboard.db")}`,
      port: 0,
      host: "127.0.0.1",
      logLevel: "silent",
      handleSignals: false,
      shutdownGraceMs: 1_000,
      workflows: dashboardWorkflows,
      engineOptions: { clock },
      alerts: {
        rules: [
          { name: "order-failed", kind: "run_failed", workflow: "doomed-order", severity: "critical" },
          { name: "charge-retried", kind: "step_retries", retries: 1, step: "charge-card" },
        ],
        webhooks: [{ url: `${hook.url}/alerts` }],
      },
    });

    context = await chromium.launchPersistentContext(join(dir, "chromium-profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1440, height: 900 },
      baseURL: server.url,
    });
    await serveDashboardIfServerDoesNot(context, server.url);
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    page.on("pageerror", (error) => pageErrors.push(error.message));
  });

  after(async () => {
    await context?.close();
    await server?.close();
    await hook?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("finds a run whose step failed once, and shows the retry on its graph and timeline", async () => {
    await api("POST", "/workflows/flaky-order/runs", {
      runId: "order-1001",
      input: { id: "1001", amount: 120 },
    });
    // The charge failed once and waits for its second attempt.
    await until(async () => stepOf(await history("order-1001"), "charge-card")?.status === "retrying");

    await page.goto("/runs");
    await page.getByLabel("Run id contains").fill("order-1001");
    await page.getByRole("link", { name: "order-1001" }).click();
    await page.waitForURL(/\/runs\/order-1001$/);
    await expectText(page.getByTestId("run-id"), "order-1001");
    // The live page shows the step retrying: red attempt bar, then the backoff still open.
    const chargeNode = page.getByTestId("graph-node-charge-card");
    await waitForAttribute(chargeNode, "data-status", "retrying");
    const chargeRow = page.getByTestId("timeline-row-charge-card");
    assert.equal(await chargeRow.locator('[data-kind="attempt-failed"]').count(), 1);
    assert.equal(await chargeRow.locator('[data-kind="backoff"]').count(), 1);
    await shot(page, "run-retrying");

    // Skip the backoff: the second attempt succeeds and the run completes; the page follows live.
    clock.jump(FLAKY_BACKOFF_MS);
    await until(async () => (await history("order-1001")).run.status === "completed");
    await expectText(page.locator(".page-head .badge").first(), "completed");

    await waitForAttribute(chargeNode, "data-status", "completed");
    await expectText(chargeNode, "2 attempts");
    assert.equal(await chargeRow.getAttribute("data-attempts"), "2");
    assert.deepEqual(
      await chargeRow.locator(".tl-bar").evaluateAll((bars) => bars.map((b) => b.getAttribute("data-kind"))),
      ["attempt-failed", "backoff", "attempt-ok"],
      "the timeline shows the failed attempt, the wait, then the attempt that succeeded",
    );
    // The backoff bar spans the jumped-over wait: much longer than any step's own work.
    const widths = await chargeRow
      .locator(".tl-bar")
      .evaluateAll((bars) => bars.map((b) => b.getBoundingClientRect().width));
    assert.ok(
      widths[1] > widths[0] && widths[1] > widths[2],
      `backoff is the long bar: ${widths.join(", ")}`,
    );
    for (const step of ["reserve-stock", "email-receipt", "sms-receipt", "ship-order"]) {
      await waitForAttribute(page.getByTestId(`graph-node-${step}`), "data-status", "completed");
    }
    // The two receipts ran at the same time: drawn side by side (one above the other, same column).
    const email = await page.getByTestId("graph-node-email-receipt").boundingBox();
    const sms = await page.getByTestId("graph-node-sms-receipt").boundingBox();
    assert.ok(
      email && sms && Math.abs(email.x - sms.x) < 2 && Math.abs(email.y - sms.y) > 20,
      "parallel steps share a column",
    );
    // The event history lists the failed attempt with its error.
    await expectText(page.getByTestId("event-table"), "payment gateway timed out");
    await shot(page, "run-completed-after-retry");
  });

  it("links a child run and its parent both ways", async () => {
    const child = stepOf(await history("order-1001"), "ship-order")?.detail?.childRunId;
    assert.ok(child, "the journal names the child run");
    await page
      .getByTestId("graph-node-ship-order")
      .getByRole("link", { name: /open child run/ })
      .click();
    await page.waitForURL((url) => decodeURIComponent(url.pathname) === `/runs/${child}`);
    await expectText(page.getByTestId("run-id"), child);
    await page.getByTestId("parent-link").click();
    await page.waitForURL(/\/runs\/order-1001$/);
    await expectText(
      page.locator("section", { has: page.getByRole("heading", { name: "Child runs" }) }),
      child,
    );
  });

  it("opens a run that failed for good, retries it from the failed step, and sees it complete", async () => {
    await api("POST", "/workflows/doomed-order/runs", {
      runId: "order-2002",
      input: { id: "2002", amount: 75 },
    });
    await until(async () => (await history("order-2002")).run.status === "failed");

    await page.goto("/runs?status=failed");
    await page.getByRole("link", { name: "order-2002" }).click();
    await page.waitForURL(/\/runs\/order-2002$/);
    await expectText(page.getByRole("alert").first(), "card declined by issuer");
    const charge = page.getByTestId("graph-node-charge-card");
    await waitForAttribute(charge, "data-status", "failed");
    const border = await charge.evaluate((el) => getComputedStyle(el).borderColor);
    assert.equal(border, "rgb(192, 38, 44)", "the failed step is drawn red");
    await waitForAttribute(page.getByTestId("graph-node-validate-order"), "data-status", "completed");
    await shot(page, "run-failed");

    faults.cardDeclined = false; // the issuer is fixed
    await page.getByRole("button", { name: "Retry from failed step" }).click();
    await expectText(page.locator(".page-head .badge").first(), "completed");
    await waitForAttribute(charge, "data-status", "completed");
    await waitForAttribute(page.getByTestId("graph-node-confirm-order"), "data-status", "completed");
    const run = (await history("order-2002")).run;
    assert.equal(run.status, "completed");
    await shot(page, "run-retried-completed");
  });

  it("shows an alert firing, as its webhook got it, and resolved once the run is retried", async () => {
    faults.cardDeclined = true;
    await api("POST", "/workflows/doomed-order/runs", {
      runId: "order-3003",
      input: { id: "3003", amount: 9 },
    });
    await until(async () => (await history("order-3003")).run.status === "failed");

    await page.goto("/alerts");
    const firing = page.getByTestId("alerts-firing-table").locator('tr[data-rule="order-failed"]');
    await expectText(firing, "order-3003");
    await expectText(firing, "critical");
    await expectText(firing, "card declined by issuer");
    await expectText(firing, "delivered"); // the webhook answered 204
    await expectText(page.getByTestId("alerts-firing-count"), "1");
    const event = hook.requests
      .map((r) => JSON.parse(r.body.toString("utf8")))
      .find((e) => e.subject === "order-3003");
    assert.equal(event?.type, "dev.dirigent.alert.firing");
    assert.equal(await firing.getAttribute("data-alert-id"), event.data.alertId);
    // Alerts of the earlier tests resolved: order-2002 was retried, order-1001's charge succeeded.
    const resolved = page.getByTestId("alerts-resolved-table");
    await expectText(resolved.locator('tr[data-rule="order-failed"]'), "order-2002");
    await expectText(resolved.locator('tr[data-rule="charge-retried"]'), "order-1001");
    await expectText(resolved.locator('tr[data-rule="charge-retried"]'), "1 failed attempt (threshold 1)");
    await expectText(page.getByTestId("alert-rules-table"), "a run of doomed-order failed");
    await shot(page, "alerts");

    // The run is retried and completes: its alert moves to the resolved ones, the page follows.
    faults.cardDeclined = false;
    await api("POST", "/runs/order-3003/retry", {});
    await expectText(page.locator("main"), "Nothing is firing.");
    await expectText(resolved.locator('tr[data-rule="order-failed"]').first(), "order-3003");
    assert.equal(await page.getByTestId("alerts-firing-count").count(), 0);
  });

  it("sends a signal with a JSON payload from the run page", async () => {
    await api("POST", "/workflows/approval/runs", { runId: "approval-7", input: { what: "refund 2002" } });
    await until(async () => (await history("approval-7")).run.status === "waiting");
    await page.goto("/runs/approval-7");
    await expectText(page.locator(".page-head .badge").first(), "waiting");
    await page.getByRole("button", { name: "Signal…" }).click();
    const dialog = page.getByRole("dialog", { name: "Send a signal" });
    await dialog.getByLabel("Signal name").fill("approve");
    await dialog.getByLabel("Payload (JSON, optional)").fill("{not json");
    assert.equal(
      await dialog.getByRole("button", { name: "Send signal" }).isDisabled(),
      true,
      "bad JSON cannot be sent",
    );
    await expectText(dialog, "Not valid JSON");
    await dialog.getByLabel("Payload (JSON, optional)").fill('{"approved": true, "by": "ops"}');
    await dialog.getByRole("button", { name: "Send signal" }).click();
    await expectText(page.locator(".page-head .badge").first(), "completed");
    const run = (await history("approval-7")).run;
    assert.deepEqual(run.output, { what: "refund 2002", decision: { approved: true, by: "ops" } });
    await expectText(page.locator(".json").filter({ hasText: "Output" }), '"by": "ops"');
  });

  it("starts a run from the workflow page, refusing invalid JSON", async () => {
    await page.goto("/workflows");
    await expectText(page.getByTestId("workflows-table"), "doomed-order");
    await shot(page, "workflows");
    await page.getByRole("link", { name: "nightly-report", exact: true }).click();
    await page.waitForURL(/\/workflows\/nightly-report$/);
    const input = page.getByLabel("Input (JSON)");
    await input.fill("{oops");
    assert.equal(await page.getByRole("button", { name: "Start run" }).isDisabled(), true);
    await input.fill('{"day": "monday"}');
    await page.getByLabel(/Run id/).fill("report-monday");
    await page.getByRole("button", { name: "Start run" }).click();
    await page.waitForURL(/\/runs\/report-monday$/);
    await expectText(page.locator(".page-head .badge").first(), "completed");
    assert.deepEqual((await history("report-monday")).run.input, { day: "monday" });
    await page.goto("/workflows/flaky-order");
    const definition = page.locator("section", { has: page.getByRole("heading", { name: "Definition" }) });
    // A code workflow has no YAML (or, before the definitions API, the page says it cannot tell).
    await until(async () =>
      /written in code|does not serve workflow definitions/.test(await shownText(definition)),
    );
  });

  it("shows the server's input validation when a declarative workflow is started with bad input", async () => {
    await deployDefinition(server.engine, REFUND_DSL, { file: "refund-request.yaml" });
    await page.goto("/workflows/refund-request");
    await page.getByLabel("Input (JSON)").fill('{"amount": 5}');
    await page.getByRole("button", { name: "Start run" }).click();
    const error = page.getByRole("alert");
    await expectText(error, "INVALID_INPUT");
    await expectText(error, "orderId");
    assert.match(page.url(), /\/workflows\/refund-request$/, "a refused start stays on the form");
    await shot(page, "workflow");
    await page.getByLabel("Input (JSON)").fill('{"orderId": "o-9"}');
    await page.getByLabel(/Run id/).fill("refund-o-9");
    await page.getByRole("button", { name: "Start run" }).click();
    await page.waitForURL(/\/runs\/refund-o-9$/);
    await expectText(page.locator(".page-head .badge").first(), "completed");
  });

  it("shows queues with depth, the oldest task's age and the workers", async () => {
    for (const id of ["label-1", "label-2"])
      await api("POST", "/workflows/label-order/runs", { runId: id, input: { orderId: id } });
    await until(async () =>
      (await api<{ queues: { queue: string; queued: number }[] }>("GET", "/queues")).queues.some(
        (q) => q.queue === "labels" && q.queued === 2,
      ),
    );
    // A worker leases one of the two tasks.
    const polled = await api<{ tasks: unknown[] }>("POST", "/queues/labels/poll", {
      workerId: "label-printer-1",
      maxTasks: 1,
    });
    assert.equal(polled.tasks.length, 1);
    await page.goto("/queues");
    const row = page.getByTestId("queues-table").getByRole("row").filter({ hasText: "labels" });
    await expectText(row, "label-printer-1");
    const cells = await row.getByRole("cell").allInnerTexts();
    assert.equal(cells[1], "1", "one task waiting");
    assert.equal(cells[2], "1", "one task leased");
    await shot(page, "queues");
  });

  it("lists runs with filters and shows the runs page", async () => {
    await page.goto("/runs");
    const table = page.getByTestId("runs-table");
    await expectText(table, "order-2002");
    // The two label runs wait for a worker's task (one is leased, one queued): "waiting" finds them.
    await page.getByLabel("waiting", { exact: true }).check();
    await waitForRows(page, (ids) => ids.length === 2 && ids.every((id) => id.startsWith("label-")));
    await page.getByLabel("waiting", { exact: true }).uncheck();
    await page.getByLabel("Workflow").selectOption("flaky-order");
    await waitForRows(page, (ids) => ids.length === 1 && ids[0] === "order-1001");
    await page.getByLabel("Workflow").selectOption("");
    await waitForRows(page, (ids) => ids.length >= 5);
    await shot(page, "runs");
  });

  it("pages through runs 50 at a time with the API's cursor", async () => {
    const before = await api<{ runs: unknown[] }>("GET", "/runs?limit=1000");
    for (let i = 0; i < 60; i++) {
      await api("POST", "/workflows/nightly-report/runs", { runId: `bulk-${String(i).padStart(2, "0")}` });
    }
    const total = before.runs.length + 60;
    const requests: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (r.url().includes("/api/v1/runs?")) requests.push(r.url());
    };
    page.on("request", onRequest);
    try {
      await page.goto("/runs");
      await waitForRows(page, (ids) => ids.length === 50 && ids[0] === "bulk-59");
      const first = await rowIds(page);
      await page.getByRole("button", { name: "Older →" }).click();
      await waitForRows(page, (ids) => ids.length === total - 50 && !ids.includes("bulk-59"));
      const second = await rowIds(page);
      assert.equal(new Set([...first, ...second]).size, total, "the two pages together show every run once");
      assert.equal(await page.getByRole("button", { name: "Older →" }).isDisabled(), true, "no third page");
      await page.getByRole("button", { name: "← Newer" }).click();
      await waitForRows(page, (ids) => ids[0] === "bulk-59");
      // Never more than a page asked of the server.
      assert.ok(requests.length > 0);
      for (const url of requests) assert.equal(new URL(url).searchParams.get("limit"), "50", url);
      assert.ok(
        requests.some((url) => new URL(url).searchParams.has("cursor")),
        "the second page came by cursor",
      );
    } finally {
      page.off("request", onRequest);
    }
  });

  it("pauses, resumes and triggers a schedule", async () => {
    await api("POST", "/schedules", {
      scheduleId: "nightly",
      cron: "0 3 * * *",
      timezone: "UTC",
      workflow: "nightly-report",
    });
    await page.goto("/schedules");
    const row = page.locator('tr[data-schedule-id="nightly"]');
    await expectText(row, "0 3 * * *");
    await expectText(row, "active");
    await row.getByRole("button", { name: "Pause nightly" }).click();
    await expectText(row, "paused");
    await row.getByRole("button", { name: "Resume nightly" }).click();
    await expectText(row, "active");
    await row.getByRole("button", { name: "Trigger now nightly" }).click();
    const notice = page.getByRole("status").filter({ hasText: "Triggered nightly" });
    await expectText(notice, "started");
    const runId = (await shownText(notice.getByRole("link"))).trim();
    await until(async () => (await history(runId)).run.status === "completed");
    await shot(page, "schedules");
  });

  it("shows the overview charts of runs over time, failure rate and step latency", async () => {
    await page.goto("/");
    const cards = page.getByTestId("overview-cards");
    await expectText(cards, "Runs started");
    const started = Number(await shownText(cards.locator(".card").first().locator(".value")));
    assert.ok(started >= 7, `the runs started in this test are counted (${started})`);
    assert.equal((await page.locator(".chart canvas").count()) >= 2, true, "two charts drawn");
    await expectText(page.locator("main"), "p95");
    await shot(page, "overview");
  });

  it("works from the keyboard and labels every form control", async () => {
    for (const path of [
      "/runs?range=custom",
      "/workflows/nightly-report",
      "/schedules",
      "/runs/order-1001",
      "/alerts",
      "/",
    ]) {
      await page.goto(path);
      await page.locator("main h1").first().waitFor();
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll("input, select, textarea, button")]
          .filter((el) => {
            const control = el as HTMLInputElement;
            const named =
              (control.labels?.length ?? 0) > 0 || el.getAttribute("aria-label") || el.textContent?.trim();
            return !named && control.type !== "hidden";
          })
          .map((el) => el.outerHTML.slice(0, 80)),
      );
      assert.deepEqual(unlabelled, [], `unlabelled controls on ${path}`);
    }
    await page.goto("/runs");
    // React renders after the load event: Tab before that would find no link to focus yet.
    await page.locator("main h1").first().waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
    await page.getByRole("link", { name: "Queues & workers" }).focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/queues$/);
    // A run's steps are reachable by Tab in its graph, and Enter shows the step's details.
    await page.goto("/runs/order-1001");
    await page.getByTestId("graph-node-charge-card").waitFor();
    await page.locator('.react-flow__node[aria-label^="charge-card"]').focus();
    await page.keyboard.press("Enter");
    await expectText(
      page.locator("section", { has: page.getByRole("heading", { name: "Graph" }) }).locator(".notice"),
      "2 attempts",
    );
  });

  it("follows the engine live and raised no page errors", async () => {
    await waitForAttribute(page.getByTestId("live-state"), "data-state", "live");
    assert.deepEqual(pageErrors, []);
  });

  // ---- helpers --------------------------------------------------------------------------------------

  async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${server.url}/api/v1${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json as T;
  }

  function history(runId: string) {
    return api<{
      run: { status: string; input: unknown; output: unknown };
      journal: { name: string; status: string; detail?: { childRunId?: string } }[];
    }>("GET", `/runs/${encodeURIComponent(runId)}/history`);
  }
});

function stepOf<E extends { name: string }>(h: { journal: E[] }, name: string): E | undefined {
  return h.journal.find((e) => e.name === name);
}

/** Poll a condition with a short real timeout (no sleeping for workflow timers: the clock is jumped). */
async function until(condition: () => Promise<boolean>, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms: ${condition}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The text a person sees in the element (Playwright's innerText, which skips hidden parts). */
function shownText(locator: ReturnType<Page["locator"]>): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText, not the DOM property
  return locator.innerText({ timeout: 1_000 });
}

async function expectText(locator: ReturnType<Page["locator"]>, text: string): Promise<void> {
  await until(async () => (await shownText(locator)).includes(text)).catch(async (error) => {
    const actual = await shownText(locator).catch(() => "(not found)");
    throw new Error(`expected "${text}" in ${locator}; it shows:\n${actual.slice(0, 500)}`, {
      cause: error,
    });
  });
}

async function waitForAttribute(
  locator: ReturnType<Page["locator"]>,
  name: string,
  value: string,
): Promise<void> {
  await until(async () => (await locator.getAttribute(name, { timeout: 1_000 })) === value).catch(
    async (error) => {
      const actual = await locator.getAttribute(name, { timeout: 1_000 }).catch(() => "(not found)");
      throw new Error(`expected ${name}="${value}" on ${locator}; it is "${actual}"`, { cause: error });
    },
  );
}

function rowIds(page: Page): Promise<string[]> {
  return page
    .locator("[data-run-id]")
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id") ?? ""));
}

async function waitForRows(page: Page, ok: (ids: string[]) => boolean): Promise<void> {
  let ids: string[] = [];
  await until(async () => {
    ids = await rowIds(page);
    return ok(ids);
  }).catch((error) => {
    throw new Error(`the runs table shows ${JSON.stringify(ids)}`, { cause: error });
  });
}

async function shot(page: Page, name: string): Promise<void> {
  // Let the graph's fit-to-view and the charts settle before the picture.
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const TYPES: Record<string, string> = {
  ".html": "text/html",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".map": "application/json",
};

/**
 * The server serves dashboard/dist itself (with an index.html fallback for client routes). Should a
 * server without it be under test, the browser is given the files directly, so the test still
 * exercises the dashboard against the real API.
 */
async function serveDashboardIfServerDoesNot(context: BrowserContext, url: string): Promise<void> {
  const probe = await fetch(`${url}/runs/probe`);
  if ((probe.headers.get("content-type") ?? "").includes("text/html")) return;
  await context.route(
    (u) => !/^\/(api|openapi\.json|docs|healthz|readyz|metrics)(\/|$)/.test(u.pathname),
    async (route) => {
      const path = new URL(route.request().url()).pathname;
      const file = join(DIST, path);
      const found = path !== "/" && existsSync(file) && file.startsWith(DIST);
      const target = found ? file : join(DIST, "index.html");
      await route.fulfill({
        body: readFileSync(target),
        contentType: TYPES[extname(target)] ?? "application/octet-stream",
      });
    },
  );
}
