#!/usr/bin/env node
// The tracker CLI (cli/main.ts), run through tsx like the project's other
// entry points. In the repository `npx tracker` finds it (package.json "bin"),
// on the Node 24 that npm puts first on PATH.
import { register } from "tsx/esm/api";

register();
await import("../cli/main.ts");
