// The issue board. `npm run web`: hot-reloading dev server on :5173 that
// forwards API calls to VITE_TRACKER_URL (default http://localhost:8080, i.e.
// `npm start`), so the app talks to its own origin exactly as when the API
// server serves the build. `npm run build:web`: the build in web/dist.
import { fileURLToPath } from "node:url";
import { defineConfig, loadEnv, type ProxyOptions } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig(({ mode }) => {
  const env = { ...loadEnv(mode, root, "VITE_"), ...process.env };
  const target = env.VITE_TRACKER_URL || "http://localhost:8080";
  // Every RPC path is /<package>.<Service>/<Method>: tracker.v1.*, grpc.health.v1.*, …
  const proxy: Record<string, ProxyOptions> = {
    "^/(tracker|grpc)\\.[A-Za-z0-9_.]+/": { target, changeOrigin: true, ws: false },
    "^/(healthz|readyz|metrics)$": { target, changeOrigin: true },
    // The development sign-in of `npm start` (src/server/dev-sign-in.ts).
    "^/dev/sign-in$": { target, changeOrigin: true },
  };
  return {
    root,
    base: "/",
    clearScreen: false,
    build: {
      outDir: "dist",
      emptyOutDir: true,
      target: "es2022",
      sourcemap: true,
      chunkSizeWarningLimit: 1024,
    },
    server: { port: 5173, strictPort: false, proxy },
    preview: { port: 4173, proxy },
  };
});
