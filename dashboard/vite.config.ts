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
    // Vite's default (500 kB): every chunk is well below it since the pages were split.
    chunkSizeWarningLimit: 500,
    rolldownOptions: {
      output: {
        // The pages other than the runs list are loaded on demand (React.lazy in App.tsx); these groups
        // name the big libraries' chunks and keep them apart from the pages that use them, so a change
        // to the dashboard's own code leaves them cached. test/dashboard/bundle.test.ts checks the split.
        codeSplitting: {
          groups: [
            // React, its DOM renderer and the query cache: needed by every page.
            { name: "react", test: /[\\/]node_modules[\\/](react|react-dom|scheduler|@tanstack)[\\/]/ },
            // React Flow and dagre: the run and workflow graphs only.
            {
              name: "graph",
              test: /[\\/]node_modules[\\/](@xyflow|@dagrejs|d3-[^\\/]+|zustand|classcat)[\\/]/,
            },
            // uPlot: the overview's charts only.
            { name: "charts", test: /[\\/]node_modules[\\/]uplot[\\/]/ },
          ],
        },
      },
    },
  },
  server: {
    proxy: {
      "/api": { target, changeOrigin: true },
      "/openapi.json": { target, changeOrigin: true },
    },
  },
});
