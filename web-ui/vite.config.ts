import { defineConfig } from "vite";

// The built UI is served by routewatch itself (routewatch.web.static.mount_ui) at "/".
// `npm run dev` proxies the API to a running `routewatch run` (ROUTEWATCH_URL, default :8080).
const backend = process.env.ROUTEWATCH_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 1200, // maplibre-gl is ~1 MB raw, ~280 KB gzipped
  },
  server: {
    proxy: { "/api": { target: backend, changeOrigin: false } },
  },
});
