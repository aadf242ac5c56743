import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { makeTrace } from '../fixtures.js';
import { startUiSession, type UiSession } from './browser.js';
import { sendTraces } from './seed.js';

// Manual propagation gone wrong, in a trace's diagnostics list: the finding, and "How to fix"
// leading to its section of the troubleshooting page.

let ui: UiSession;
let traceId: string;

beforeAll(async () => {
  ui = await startUiSession();
  // The frontend's call was answered by the backend with its clock, which was never merged.
  const trace = makeTrace().map((event) =>
    event.kind === 'response_received'
      ? { ...event, data: { ...event.data, remote_clock: false } }
      : event,
  );
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

it('lists a response clock never merged, with the fix and a link to its section', async () => {
  await ui.open(`/traces/${traceId}`);
  const item = ui.page.locator('[data-diagnostic=brokenChains]').first();
  await item.waitFor();
  const text = await item.textContent();
  expect(text).toMatch(/inventory answered with its clock, but frontend did not merge it/);
  expect(text).toMatch(/mergeResponseHeaders/);
  const link = item.locator('a.fix-link');
  expect(await link.getAttribute('href')).toBe('/docs/troubleshooting.html#response_not_merged');
  const page = await (await fetch(`${ui.collector.url}/docs/troubleshooting.html`)).text();
  for (const id of ['response_not_merged', 'clock_missing']) {
    expect(page).toContain(`id="${id}"`);
  }
});
