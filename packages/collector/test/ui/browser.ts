import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type Collector, startCollector } from '../../src/server.js';

// The web UI in a real browser: Debian's Chromium through playwright-core (which downloads
// nothing), against a collector started in this process on a throwaway SQLite file. The UI is
// the built one (dist/ui, rebuilt by the suite's global setup when ui/src is newer), copied
// when the session starts and served to the page from that copy with the headers the collector
// gives it: a build of the package while the tests run (which empties dist/) cannot take the
// page's scripts away halfway. The collector's own serving of these files is web-ui.test.ts's.

// RACEWAY_UI_DIST names another build (e.g. an older one, to see a new test fail on it).
const BUILT_UI =
  process.env.RACEWAY_UI_DIST ?? fileURLToPath(new URL('../../dist/ui/', import.meta.url));
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};

/** Copies the built UI once it is whole (every asset index.html names is there). */
async function copyBuiltUi(to: string): Promise<void> {
  for (let attempt = 0; attempt < 120; attempt += 1) {
    try {
      cpSync(BUILT_UI, to, { recursive: true });
      const html = readFileSync(join(to, 'index.html'), 'utf8');
      const assets = [...html.matchAll(/\/assets\/[^"']+/g)].map((m) => m[0]);
      if (assets.length > 0 && assets.every((a) => existsSync(join(to, a)))) return;
    } catch {
      // Being rebuilt right now: try again.
    }
    rmSync(to, { recursive: true, force: true });
    await sleep(500);
  }
  throw new Error(`no built UI in ${BUILT_UI}: run pnpm --filter @raceway/collector build`);
}

/** Where Debian's `chromium` package puts the browser; RACEWAY_CHROMIUM names another one. */
const EXECUTABLE = process.env.RACEWAY_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Screenshots of the views, kept as test artifacts (gitignored). */
export const SCREENSHOTS = fileURLToPath(
  new URL('../../../../.raceway/ui-screenshots/', import.meta.url),
);

export interface UiSession {
  /** The running collector (a new one after {@link UiSession.restartCollector}). */
  collector: Collector;
  browser: Browser;
  page: Page;
  /** Console errors and uncaught page errors since the last call. */
  takeProblems(): string[];
  /** Opens `path` of the collector's UI. */
  open(path: string): Promise<void>;
  /** Stops the collector, as a user's Ctrl-C would; the page stays open. */
  stopCollector(): Promise<void>;
  /** Starts the collector again on the same port and database. */
  restartCollector(): Promise<void>;
  /** A full-page screenshot in {@link SCREENSHOTS}. */
  shot(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function startUiSession(
  options: { width?: number; height?: number; tolerate?: (error: string) => boolean } = {},
): Promise<UiSession> {
  const dir = mkdtempSync(join(tmpdir(), 'raceway-ui-'));
  mkdirSync(SCREENSHOTS, { recursive: true });
  const storage = `sqlite:${join(dir, 'collector.db')}`;
  let collector = await startCollector({ port: 0, storage });
  const url = collector.url;
  let running = true;
  const uiCopy = join(dir, 'ui');
  await copyBuiltUi(uiCopy);
  // The collector's Content-Security-Policy for its pages (once it serves the UI again, when a
  // build is emptying dist/ at this moment).
  let policy: string | null = null;
  for (let attempt = 0; policy === null && attempt < 120; attempt += 1) {
    policy = (await fetch(`${url}/traces`)).headers.get('content-security-policy');
    if (policy === null) await sleep(500);
  }
  if (policy === null) throw new Error('the collector serves no UI: is dist/ui built?');
  const browser = await chromium.launch({ executablePath: EXECUTABLE, args: ARGS });
  const page = await browser.newPage({
    viewport: { width: options.width ?? 1400, height: options.height ?? 1000 },
  });
  await page.route(
    (target) =>
      target.origin === new URL(url).origin &&
      !/^\/(api|v1)\//.test(target.pathname) &&
      target.pathname !== '/healthz',
    (route) => {
      const path = new URL(route.request().url()).pathname;
      // The UI's files (its bundles, the troubleshooting page); any other path is a deep link.
      const file = /^\/(assets|docs)\//.test(path)
        ? join(uiCopy, path)
        : join(uiCopy, 'index.html');
      if (!existsSync(file)) return route.fulfill({ status: 404, body: 'not found' });
      return route.fulfill({
        status: 200,
        contentType: TYPES[extname(file)] ?? 'application/octet-stream',
        headers: { 'content-security-policy': policy },
        body: readFileSync(file),
      });
    },
  );
  let problems: string[] = [];
  const tolerate = options.tolerate ?? (() => false);
  page.on('console', (message) => {
    if (message.type() === 'error' && !tolerate(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return {
    get collector() {
      return collector;
    },
    browser,
    page,
    takeProblems() {
      const seen = problems;
      problems = [];
      return seen;
    },
    async open(path) {
      await page.goto(`${url}${path}`);
    },
    async stopCollector() {
      running = false;
      await collector.close();
    },
    async restartCollector() {
      collector = await startCollector({ port: collector.port, storage });
      running = true;
    },
    async shot(name) {
      // A full-page shot of a scrolled page draws the sticky header where the window was,
      // over the content: the shot is taken from the top, where the header belongs.
      await page.evaluate('window.scrollTo(0, 0)');
      await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
    async close() {
      await browser.close();
      if (running) await collector.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Counts the page's requests whose URL path is `path` (e.g. every refresh of a list). */
export function countRequests(page: Page, path: string): () => number {
  let count = 0;
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === path) count += 1;
  });
  return () => count;
}
