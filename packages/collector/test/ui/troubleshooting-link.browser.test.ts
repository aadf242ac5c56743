import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTrace } from '../fixtures.js';
import { startUiSession, type UiSession } from './browser.js';
import { sendTraces } from './seed.js';

// The page's globals, in the functions this file runs in the browser (the package is typed
// for Node, without the DOM).
// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not this package's
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: as above
declare const window: any;

// A trace's diagnostic links to the section of the troubleshooting page that explains it,
// which the collector serves with the UI.

let ui: UiSession;
let traceId: string;

beforeAll(async () => {
  ui = await startUiSession();
  // A call to a host that never reports: a `callee_missing` broken chain.
  const trace = makeTrace({ uninstrumentedHost: 'payments.example.com' });
  traceId = trace[0]!.trace_id;
  await sendTraces(ui.collector.url, [trace]);
  await ui.collector.analyzeNow();
});

afterEach(() => {
  expect(ui.takeProblems()).toEqual([]);
});

afterAll(async () => {
  await ui?.close();
});

describe('"How to fix" on a diagnostic', () => {
  it("opens the troubleshooting section of the diagnostic's kind", async () => {
    await ui.open(`/traces/${traceId}`);
    const item = ui.page.locator('[data-diagnostic=brokenChains]').first();
    await item.waitFor();
    expect(await item.textContent()).toMatch(/payments\.example\.com/);
    const link = item.locator('a.fix-link');
    expect(await link.getAttribute('href')).toBe('/docs/troubleshooting.html#callee_missing');

    await link.click();
    await ui.page.waitForURL(/\/docs\/troubleshooting\.html#callee_missing$/);
    // The section the link names is the page's target, in view, and is about that kind.
    const section = ui.page.locator('h3#callee_missing');
    await section.waitFor();
    expect(await section.textContent()).toMatch(/^callee_missing: /);
    expect(await ui.page.evaluate(() => document.querySelector(':target')?.id)).toBe(
      'callee_missing',
    );
    const top = await ui.page.evaluate(
      () => document.querySelector('#callee_missing').getBoundingClientRect().top,
    );
    expect(top).toBeGreaterThanOrEqual(0);
    expect(top).toBeLessThan(await ui.page.evaluate(() => window.innerHeight));
    await ui.shot('troubleshooting-callee-missing');

    // Back returns to the trace.
    await ui.page.goBack();
    await ui.page.locator('[data-diagnostic=brokenChains]').first().waitFor();
  });

  it('is served by the collector itself, at the URL the UI links to', async () => {
    const answer = await fetch(`${ui.collector.url}/docs/troubleshooting.html`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await answer.text();
    for (const id of ['broken-trace-chains', 'callee_missing', 'clock-skew']) {
      expect(html).toContain(`id="${id}"`);
    }
  });
});
