// The dashboard's build: `npm run build:dashboard` from the repository root writes dashboard/dist,
// which the server serves at /. `npx vite --config dashboard/vite.config.ts` runs a dev server that
// proxies the API to a Dirigent server on DIRIGENT_URL (default http://127.0.0.1:7070).
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));
const target = process.env.DIRIGENT_URL ?? "http://127.0.0.1:7070";

export default defineConfig({
  root,
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1_000,
  },
  server: {
    proxy: {
      "/api": { target, changeOrigin: true },
      "/openapi.json": { target, changeOrigin: true },
    },
  },
});
