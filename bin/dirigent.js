#!/usr/bin/env node
// The `dirigent` command: loads tsx's TypeScript support into this process (for ES modules and
// CommonJS, like `node --import tsx`), then runs src/cli/main.ts. Everything is resolved from this
// file, so the command works from any working directory.
import { register as registerCjs } from "tsx/cjs/api";
import { register as registerEsm } from "tsx/esm/api";

registerCjs();
registerEsm();
await import(new URL("../src/cli/main.ts", import.meta.url).href);
