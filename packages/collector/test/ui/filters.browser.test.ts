import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { countRequests, startUiSession, type UiSession } from './browser.js';
import { requestTrace, sendTraces } from './seed.js';

// Text typed into a filter field is the user's until Enter: the lists refresh every 2 s
// (traces) and 5 s (races), and no refresh may erase or shorten what is being typed.

let ui: UiSession;

beforeAll(async () => {
  ui = await startUiSession();
  const now = Date.now() * 1000;
  await sendTraces(
    ui.collector.url,
    Array.from({ length: 12 }, (_, i) =>
      requestTrace({
        route: i % 3 === 0 ? '/checkout' : '/browse',
        startUs: now - i * 1_000_000,
        durationMs: 10 + i * 10,
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

/** Types `text` one key at a time, `delayMs` apart, the way a slow typist does. */
async function typeSlowly(selector: string, text: string, delayMs: number) {
  await ui.page.locator(selector).click();
  await ui.page.keyboard.type(text, { delay: delayMs });
}

describe('filter fields under the periodic refresh', () => {
  it('keeps Route, Min ms and Max ms as typed through three refreshes, before and after Enter', async () => {
    await ui.open('/traces');
    await ui.page.locator('[data-trace-id]').first().waitFor();
    const refreshes = countRequests(ui.page, '/api/traces');

    // 8 keys 900 ms apart: about 7 s of typing, over three 2 s refreshes.
    await typeSlowly('input[name=route]', 'checkout', 900);
    expect(refreshes()).toBeGreaterThanOrEqual(3);
    expect(await ui.page.inputValue('input[name=route]')).toBe('checkout');

    const before = refreshes();
    await typeSlowly('input[name=min_ms]', '25', 3500);
    await typeSlowly('input[name=max_ms]', '95', 3500);
    expect(refreshes() - before).toBeGreaterThanOrEqual(3);
    expect(await ui.page.inputValue('input[name=route]')).toBe('checkout');
    expect(await ui.page.inputValue('input[name=min_ms]')).toBe('25');
    expect(await ui.page.inputValue('input[name=max_ms]')).toBe('95');

    await ui.page.keyboard.press('Enter');
    await ui.page.waitForURL(/max_ms=95/);
    await ui.page.locator('input[name=route]').press('Enter');
    await ui.page.waitForURL(/route=checkout/);
    const committed = refreshes();
    await expect.poll(refreshes, { timeout: 10_000 }).toBeGreaterThanOrEqual(committed + 3);
    expect(await ui.page.inputValue('input[name=route]')).toBe('checkout');
    expect(await ui.page.inputValue('input[name=max_ms]')).toBe('95');
    expect(await ui.page.inputValue('input[name=min_ms]')).toBe('25');
  }, 60_000);

  it('keeps the Races filters as typed through three refreshes', async () => {
    await ui.open('/races');
    await ui.page.getByTestId('races-view').waitFor();
    const refreshes = countRequests(ui.page, '/api/races');
    // 5 s refresh: 6 keys 2.6 s apart span three of them.
    await typeSlowly('input[name=resource]', 'stock:', 2600);
    expect(refreshes()).toBeGreaterThanOrEqual(3);
    expect(await ui.page.inputValue('input[name=resource]')).toBe('stock:');
    await ui.page.keyboard.press('Enter');
    await ui.page.waitForURL(/resource=stock%3A/);
    expect(await ui.page.inputValue('input[name=resource]')).toBe('stock:');
  }, 60_000);

  it('empties the fields when the filters are cleared', async () => {
    await ui.open('/traces?route=checkout&min_ms=5');
    expect(await ui.page.inputValue('input[name=route]')).toBe('checkout');
    await ui.page.getByRole('button', { name: 'Clear filters' }).click();
    await ui.page.waitForURL(/\/traces$/);
    // The fields follow the new URL on the render after it changed.
    await expect.poll(() => ui.page.inputValue('input[name=route]')).toBe('');
    await expect.poll(() => ui.page.inputValue('input[name=min_ms]')).toBe('');
  });
});
