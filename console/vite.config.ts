// The console's build: one plain Vite build of a Preact app. JSX goes to Preact's runtime.
import { defineConfig } from "vite";

export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    target: "es2022",
    assetsInlineLimit: 0, // no data: URLs, so the CSP can stay strict
    sourcemap: false,
    reportCompressedSize: false,
  },
});
