#!/usr/bin/env node
// Builds the web dashboard (dashboard/ → dashboard/dist) when dist is missing or older than any of its
// sources, so `npm start` always serves a current dashboard without rebuilding every time.
// `npm start` runs it as `prestart`; the dashboard's browser test runs it in its before() hook.
// Exit code 0 when dist is current or was built; 1 when a needed build failed. `--force` always builds.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dashboard = join(root, "dashboard");
const builtMarker = join(dashboard, "dist", "index.html");

/** Newest modification time (ms) of the files under `path`, skipping dist and node_modules. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = 0;
  for (const name of readdirSync(path)) {
    if (name === "dist" || name === "node_modules" || name.startsWith(".")) continue;
    max = Math.max(max, newest(join(path, name)));
  }
  return max;
}

function isStale() {
  if (!existsSync(builtMarker)) return "dashboard/dist is missing";
  const builtAt = statSync(builtMarker).mtimeMs;
  // The dependencies' versions live in the root lock file: an upgrade rebuilds too.
  const sourcesAt = Math.max(newest(dashboard), newest(join(root, "package-lock.json")));
  return sourcesAt > builtAt ? "dashboard sources changed since the last build" : undefined;
}

const force = process.argv.includes("--force");
const reason = force ? "--force" : isStale();
if (!reason) process.exit(0);

const viteBin = join(root, "node_modules", "vite", "bin", "vite.js");
if (!existsSync(viteBin)) {
  // A production install (--omit=dev) has no build tools: serve what is there, or no dashboard.
  console.warn(`dashboard: ${reason}, but vite is not installed (npm install builds it); the API works without it`);
  process.exit(0);
}
console.log(`dashboard: ${reason}; building…`);
const result = spawnSync(process.execPath, [viteBin, "build", "--config", join(dashboard, "vite.config.ts"), "--logLevel", "warn"], {
  cwd: root,
  stdio: "inherit",
});
if (result.status !== 0) {
  console.error("dashboard: the build failed");
  process.exit(1);
}
console.log("dashboard: built dashboard/dist");
