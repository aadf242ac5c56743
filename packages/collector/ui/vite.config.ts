import { defineConfig } from 'vite';

// The web UI, built into the collector's dist/ui (served at `/` by src/web-ui.ts). Paths are
// relative to this folder (root). Preact's JSX goes through esbuild's automatic runtime, which
// is all @preact/preset-vite would add for a production build (its extras are dev-time: HMR
// and devtools). Nothing is fetched at build time or at run time: no CDN, no web fonts.
export default defineConfig({
  root: 'ui',
  base: '/',
  publicDir: false,
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: '../dist/ui',
    emptyOutDir: true,
    target: 'es2022',
    // One small bundle: no chunk-loading polyfill, no preload helper fetches.
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
});
