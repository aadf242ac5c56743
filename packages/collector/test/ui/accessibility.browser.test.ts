import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startUiSession, type UiSession } from './browser.js';
import { racingTrace, requestTrace, sendTraces } from './seed.js';

// The page's globals, in the functions this file runs in the browser (the package is typed
// for Node, without the DOM).
// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not this package's
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: as above
declare const window: any;

// The UI with the keyboard and a screen reader in mind: axe-core finds no violation on any
// view in light or dark, the keyboard reaches the trace list in few Tab presses, the events
// of the space-time view (one Tab stop, then the arrows: tab-order.browser.test.ts) and the
// services of the dependency graph, and a navigation puts the focus on the new view's heading.

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let ui: UiSession;
let racedTraceId: string;

beforeAll(async () => {
  ui = await startUiSession();
  const now = Date.now() * 1000;
  const raced = racingTrace({ resource: 'stock:mug', startUs: now - 2_000_000 });
  racedTraceId = raced[0]!.trace_id;
  await sendTraces(ui.collector.url, [
    raced,
    requestTrace({ route: '/browse', startUs: now, calls: ['catalogue', 'pricing'] }),
    requestTrace({ route: '/pay', startUs: now - 1_000_000, status: 502, calls: ['payment'] }),
  ]);
  await ui.collector.analyzeNow();
});

afterEach(() => {
  expect(ui.takeProblems()).toEqual([]);
});

afterAll(async () => {
  await ui?.close();
});

/** axe-core's violations on the page as it is: "rule: selector" lines. */
async function axeViolations(): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's Content-Security-Policy forbids an
  // injected <script>, rightly.
  await ui.page.evaluate(AXE);
  return ui.page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(c: unknown): Promise<AxeResults> } }).axe;
    interface AxeResults {
      violations: Array<{ id: string; nodes: Array<{ target: string[] }> }>;
    }
    const { violations } = await axe.run(document);
    return violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`));
  });
}

const VIEWS: Array<[string, () => string, string]> = [
  ['traces', () => '/traces', '[data-trace-id]'],
  ['trace', () => `/traces/${racedTraceId}`, '.st-event'],
  ['races', () => '/races', '[data-testid=race-resource]'],
  ['dependencies', () => '/insights/dependencies', '[data-testid=dep-node]'],
  ['services', () => '/insights/services', '[data-testid=services-table]'],
  ['diagnostics', () => '/insights/diagnostics', '[data-testid=insights-diagnostics]'],
  ['history', () => '/resources/history?resource=stock%3Amug', '[data-testid=history-view]'],
];

describe('axe-core', () => {
  for (const scheme of ['light', 'dark'] as const) {
    it.each(VIEWS)(`finds no violation on %s in ${scheme} mode`, async (name, path, ready) => {
      await ui.page.emulateMedia({ colorScheme: scheme });
      await ui.open(path());
      await ui.page.locator(ready).first().waitFor();
      expect(await axeViolations()).toEqual([]);
      await ui.shot(`${name}-${scheme}`);
    });
  }
});

describe('the keyboard', () => {
  /** Presses Tab until `done` holds for the focused element; returns the presses, or -1. */
  async function tabUntil(done: string, limit = 60): Promise<number> {
    for (let presses = 1; presses <= limit; presses += 1) {
      await ui.page.keyboard.press('Tab');
      if (await ui.page.evaluate((selector) => !!document.activeElement?.matches(selector), done))
        return presses;
    }
    return -1;
  }

  // The header (brand, three views, API), the trace id box and its button, eight filters (the
  // time a preset list: its date-time fields only for a custom range), five sort buttons, then
  // the list: 21. The rows' links and ticks are out of the Tab order (the list takes the
  // arrows, Space and Enter), and a date-time field is six stops.
  it('reaches the trace list in at most 21 Tab presses', async () => {
    await ui.page.emulateMedia({ colorScheme: 'light' });
    await ui.open('/traces');
    await ui.page.locator('[data-trace-id]').first().waitFor();
    const presses = await tabUntil('[data-testid=trace-list]');
    expect(presses).toBeGreaterThan(0);
    expect(presses).toBeLessThanOrEqual(21);
  });

  it('reaches the events of the space-time view with Tab and selects one with Enter', async () => {
    await ui.open(`/traces/${racedTraceId}`);
    await ui.page.locator('.st-event').first().waitFor();
    expect(await tabUntil('.st-event')).toBeGreaterThan(0);
    const id = await ui.page.evaluate(() => document.activeElement?.getAttribute('data-event-id'));
    await ui.page.keyboard.press('Enter');
    await ui.page.waitForURL(new RegExp(`event=${id}`));
    expect(
      await ui.page.locator(`.st-event[data-event-id="${id}"]`).getAttribute('aria-pressed'),
    ).toBe('true');
  });

  it('opens a service of the dependency graph with the keyboard and focuses the heading of the list', async () => {
    await ui.open('/insights/dependencies');
    await ui.page.locator('[data-testid=dep-node]').first().waitFor();
    expect(await tabUntil('[data-testid=dep-node]')).toBeGreaterThan(0);
    const service = await ui.page.evaluate(() =>
      document.activeElement?.getAttribute('data-service'),
    );
    await ui.page.keyboard.press('Enter');
    await ui.page.waitForURL(new RegExp(`/traces\\?service=${service}`));
    await expect
      .poll(() => ui.page.evaluate(() => document.activeElement?.textContent))
      .toBe('Traces');
  });
});
