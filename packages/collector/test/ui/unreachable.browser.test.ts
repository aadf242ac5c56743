import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startUiSession, type UiSession } from './browser.js';
import { requestTrace, sendTraces } from './seed.js';

// A collector that stops while a list is open: the page says so where the user looks, keeps
// what it showed, and clears the warning and updates again once the collector is back.

let ui: UiSession;

beforeAll(async () => {
  // While the collector is down every refresh fails, and Chromium logs each as a console error.
  ui = await startUiSession({ tolerate: (text) => text.includes('ERR_CONNECTION_REFUSED') });
  const now = Date.now() * 1000;
  await sendTraces(
    ui.collector.url,
    Array.from({ length: 3 }, (_, i) =>
      requestTrace({ route: '/before', startUs: now - i * 1000 }),
    ),
  );
});

afterEach(() => {
  expect(ui.takeProblems()).toEqual([]);
});

afterAll(async () => {
  await ui?.close();
});

describe('a collector that goes away', () => {
  it('says so on the trace list, keeps the list, and recovers when the collector is back', async () => {
    await ui.open('/traces');
    await expect.poll(() => ui.page.getByTestId('trace-count').textContent()).toMatch(/^3 traces/);
    const banner = ui.page.getByTestId('unreachable');
    expect(await banner.count()).toBe(0);

    await ui.stopCollector();
    await banner.waitFor({ timeout: 10_000 });
    expect(await banner.textContent()).toMatch(/cannot be reached/);
    expect(await banner.getAttribute('role')).toBe('alert');
    expect(await banner.isVisible()).toBe(true);
    // What was loaded stays, and the list no longer claims to update.
    expect(await ui.page.getByTestId('trace-count').textContent()).toMatch(
      /^3 traces · not updating/,
    );
    await ui.shot('traces-collector-unreachable');

    await ui.restartCollector();
    await sendTraces(ui.collector.url, [
      requestTrace({ route: '/after', startUs: Date.now() * 1000 }),
    ]);
    await banner.waitFor({ state: 'detached', timeout: 10_000 });
    await expect
      .poll(() => ui.page.getByTestId('trace-count').textContent())
      .toMatch(/^4 traces · updates every 2 s/);
  }, 40_000);
});
