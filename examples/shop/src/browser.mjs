// The browser the web UI's end-to-end tests drive: Debian's Chromium through playwright-core,
// which downloads nothing, and a watch on the page for what a user would see go wrong.
import { chromium } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser; RACEWAY_CHROMIUM names another one. */
const EXECUTABLE = process.env.RACEWAY_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** @returns {Promise<import('playwright-core').Browser>} */
export function launchChromium() {
  return chromium.launch({ executablePath: EXECUTABLE, args: ARGS });
}

/**
 * Collects the page's console errors, uncaught errors and every request that leaves the given
 * origins (the UI loads nothing from anywhere but its collector). `take()` returns what was
 * collected since the last call and starts afresh, so that each test checks its own.
 *
 * @param {import('playwright-core').Page} page
 * @param {{ origins: Set<string>, tolerate?: (consoleError: string) => boolean }} options
 *   `origins` may grow while the page is open; `tolerate` lets a test expect a console error
 */
export function watchPage(page, { origins, tolerate = () => false }) {
  /** @type {string[]} */
  let problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !tolerate(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith('data:') && !origins.has(new URL(url).origin)) {
      problems.push(`network load outside the collector: ${url}`);
    }
  });
  return {
    take() {
      const seen = problems;
      problems = [];
      return seen;
    },
  };
}
