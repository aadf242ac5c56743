import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startUiSession, type UiSession } from './browser.js';
import { requestTrace, sendTraces } from './seed.js';

// The trace list with more traces stored than one page holds (500): every filter is answered
// by the collector, so a rare route is found however old its traces are, and "Load more"
// reaches the rest.

let ui: UiSession;
const now = Date.now() * 1000;

beforeAll(async () => {
  ui = await startUiSession();
  // 700 traces a second apart, newest first; every 7th (100 of them) on /rare, lasting 70 ms;
  // the others on /common, lasting 5 ms.
  await sendTraces(
    ui.collector.url,
    Array.from({ length: 700 }, (_, i) =>
      requestTrace({
        route: i % 7 === 6 ? '/rare' : '/common',
        startUs: now - i * 1_000_000,
        durationMs: i % 7 === 6 ? 70 : 5,
      }),
    ),
  );
});

afterEach(() => {
  expect(ui.takeProblems()).toEqual([]);
});

afterAll(async () => {
  await ui?.close();
});

const rowCount = () => ui.page.getByTestId('trace-list').getAttribute('aria-rowcount').then(Number);
const count = () => ui.page.getByTestId('trace-count').textContent();

describe('trace search over more traces than a page', () => {
  it('finds all 100 traces of a rare route among 700', async () => {
    await ui.open('/traces?route=rare');
    await expect.poll(count).toMatch(/^100 traces/);
    expect(await rowCount()).toBe(100);
    expect(await ui.page.getByTestId('load-more').count()).toBe(0);
    // The oldest rare trace, far beyond the newest 500, is in the list.
    await ui.page.getByTestId('trace-list').focus();
    await ui.page.keyboard.press('End');
    const last = ui.page.locator('[aria-selected=true] [data-trace-id]');
    await expect.poll(() => last.locator('a').textContent()).toContain('/rare');
  });

  it('filters by duration on the collector: 70 ms and more is the rare route', async () => {
    await ui.open('/traces');
    await ui.page.locator('input[name=min_ms]').fill('50');
    await ui.page.locator('input[name=min_ms]').press('Enter');
    await ui.page.waitForURL(/min_ms=50/);
    await expect.poll(count).toMatch(/^100 traces/);
    await ui.page.locator('input[name=max_ms]').fill('60');
    await ui.page.locator('input[name=max_ms]').press('Enter');
    await ui.page.waitForURL(/max_ms=60/);
    await ui.page.getByText('No trace matches these filters').waitFor();
  });

  it('shows the newest 500 and loads the 200 older ones on demand', async () => {
    await ui.open('/traces');
    await expect.poll(count).toMatch(/^newest 500 traces/);
    expect(await rowCount()).toBe(500);
    await ui.page.getByTestId('load-more').click();
    await expect.poll(count).toMatch(/^700 traces/);
    expect(await rowCount()).toBe(700);
    expect(await ui.page.getByTestId('load-more').count()).toBe(0);
    // A refresh of the first page keeps the older ones.
    await ui.page.waitForTimeout(2500);
    expect(await rowCount()).toBe(700);
  });
});
