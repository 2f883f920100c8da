// Builds one ES module into ../layercraft_canvas/dist. The file name carries a content
// hash, so the same source always gives the same name and bytes (`make test` checks that
// the committed bundle matches a fresh build).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: "../layercraft_canvas/dist",
    emptyOutDir: true,
    minify: "esbuild",
    sourcemap: false,
    // Not library mode: there vite keeps whitespace in ES output.
    rollupOptions: {
      input: "src/index.tsx",
      preserveEntrySignatures: "exports-only",
      output: { format: "es", entryFileNames: "index-[hash].js" },
    },
  },
});
