/// <reference types="node" />
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { anchorsOf, renderTroubleshooting } from './docs-page.js';

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
  plugins: [
    troubleshootingPage(
      fileURLToPath(new URL('../../../docs/troubleshooting.md', import.meta.url)),
      'docs/troubleshooting.html',
    ),
  ],
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

/** The module the UI imports the page's anchors from (the sections it can link to). */
export const ANCHORS_MODULE = 'virtual:troubleshooting-anchors';

/**
 * A Vite plugin writing `output` (in the build's outDir) from the markdown file `source`, and
 * serving its anchors as {@link ANCHORS_MODULE}.
 */
export function troubleshootingPage(source: string, output: string): Plugin {
  const render = () => renderTroubleshooting(readFileSync(source, 'utf8'));
  return {
    name: 'raceway-troubleshooting-page',
    resolveId: (id) => (id === ANCHORS_MODULE ? `\0${ANCHORS_MODULE}` : null),
    load(id) {
      if (id !== `\0${ANCHORS_MODULE}`) return null;
      this.addWatchFile(source);
      return `export default ${JSON.stringify(anchorsOf(render()))};`;
    },
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: output, source: render() });
    },
  };
}
