// Bundles the CLI into one ESM file so start-up costs one module load, not a TypeScript
// compile (tsx adds ~0.2 s per run). PGlite stays external: it loads its WebAssembly and data
// files relative to its own module.
import { chmod, rm } from "node:fs/promises";
import { build } from "esbuild";

await rm("dist", { recursive: true, force: true });
await build({
  entryPoints: ["src/main.ts"],
  entryNames: "imap-proxy",
  outdir: "dist",
  // Each command's implementation is its own chunk, loaded only when that command runs.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  external: ["@electric-sql/pglite"],
  sourcemap: "linked",
  legalComments: "none",
  minify: true,
  logLevel: "warning",
  banner: {
    // CommonJS dependencies call require(); give the ESM bundle one.
    js: "#!/usr/bin/env node\nimport { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(import.meta.url);",
  },
});
await chmod("dist/imap-proxy.js", 0o755);
