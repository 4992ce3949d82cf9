// The dashboard's production bundle is split so that the first page loads little: the pages other than
// the runs list, the graph library and the chart library are chunks fetched on demand (App.tsx and
// dashboard/vite.config.ts). This builds the dashboard into a temporary folder (never dashboard/dist,
// which the browser test may be serving at the same time) and checks what the first page loads.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The JavaScript the first page may load: its entry and everything the entry imports statically. */
const INITIAL_JS_BUDGET = 320_000; // bytes; a single 611 kB file before the split, react-dom alone is ~200 kB
/** The entry chunk itself: the dashboard's own code for the shell and the runs list. */
const ENTRY_BUDGET = 100_000;
/** Libraries only some pages use: none of them may be in what the first page loads. */
const ON_DEMAND_ONLY = /node_modules\/(@xyflow|@dagrejs|d3-[^/]+|zustand|uplot)\//;
/** Pages fetched on first visit (the runs list, RunsPage.tsx, is in the entry on purpose). */
const LAZY_PAGES = /src\/pages\/(Overview|Run|Workflows|Queues|Schedules|Alerts)Page\.tsx$/;

interface ManifestChunk {
  file: string;
  isEntry?: boolean;
  isDynamicEntry?: boolean;
  imports?: string[];
  dynamicImports?: string[];
}

describe("dashboard bundle", () => {
  let out: string;
  let manifest: Record<string, ManifestChunk>;

  before(() => {
    out = mkdtempSync(join(tmpdir(), "dirigent-dashboard-bundle-"));
    const vite = join(ROOT, "node_modules", "vite", "bin", "vite.js");
    const config = join(ROOT, "dashboard", "vite.config.ts");
    const build = spawnSync(
      process.execPath,
      [
        vite,
        "build",
        "--config",
        config,
        "--outDir",
        out,
        "--emptyOutDir",
        "--manifest",
        "--logLevel",
        "warn",
      ],
      { cwd: ROOT, encoding: "utf8" },
    );
    assert.equal(build.status, 0, `dashboard build failed:\n${build.stdout}\n${build.stderr}`);
    manifest = JSON.parse(readFileSync(join(out, ".vite", "manifest.json"), "utf8"));
  });

  after(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  /** The manifest keys of the entry's chunk and of every chunk it imports statically, transitively. */
  function initialChunks(): string[] {
    const seen = new Set<string>(["index.html"]);
    assert.ok(manifest["index.html"]?.isEntry, "index.html is the entry");
    for (const key of seen) for (const dep of manifest[key].imports ?? []) seen.add(dep);
    return [...seen];
  }

  /** The source files (as the source map names them) bundled into the chunk `key`. */
  function sourcesOf(key: string): string[] {
    // The bundler's own runtime chunk is generated code with no source map: it has no sources.
    const path = join(out, `${manifest[key].file}.map`);
    if (!existsSync(path)) return [];
    const map = JSON.parse(readFileSync(path, "utf8"));
    return (map.sources as string[]).map((s) => s.replaceAll("\\", "/"));
  }

  const sizeOf = (key: string) => statSync(join(out, manifest[key].file)).size;

  it("keeps what the first page loads within budget", () => {
    const chunks = initialChunks();
    const total = chunks.reduce((sum, key) => sum + sizeOf(key), 0);
    const listing = chunks.map((key) => `${manifest[key].file} ${sizeOf(key)} B`).join(", ");
    assert.ok(total <= INITIAL_JS_BUDGET, `the first page loads ${total} B of JavaScript: ${listing}`);
    assert.ok(sizeOf("index.html") <= ENTRY_BUDGET, `the entry chunk is ${sizeOf("index.html")} B`);
  });

  it("leaves the graph and chart libraries and the other pages out of the first load", () => {
    const initial = initialChunks().flatMap((key) =>
      sourcesOf(key).map((s) => `${manifest[key].file}: ${s}`),
    );
    assert.deepEqual(
      initial.filter((s) => ON_DEMAND_ONLY.test(s) || LAZY_PAGES.test(s)),
      [],
      "loaded by the first page though only other pages need them",
    );
    assert.ok(
      initial.some((s) => s.endsWith("src/pages/RunsPage.tsx")),
      "the runs list is in the first load",
    );
  });

  it("still bundles those libraries, in chunks loaded on demand", () => {
    // Without this the check above would pass on a build that lost the graph or the charts.
    const initial = new Set(initialChunks());
    const lazy = Object.keys(manifest).filter(
      (key) => !initial.has(key) && manifest[key].file.endsWith(".js"),
    );
    const lazySources = lazy.flatMap(sourcesOf);
    for (const lib of ["@xyflow/react", "@dagrejs/dagre", "uplot"]) {
      assert.ok(
        lazySources.some((s) => s.includes(`node_modules/${lib}/`)),
        `${lib} is in an on-demand chunk`,
      );
    }
    assert.ok(
      lazy.some(
        (key) => manifest[key].isDynamicEntry && sourcesOf(key).some((s) => s.endsWith("RunPage.tsx")),
      ),
      "the run page is a dynamic entry",
    );
  });
});
