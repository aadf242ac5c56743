import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startUiSession, type UiSession } from './browser.js';
import { racingTrace, requestTrace, sendTraces } from './seed.js';

// The page's globals, in the functions this file runs in the browser (the package is typed
// for Node, without the DOM).
// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not this package's
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: as above
declare const window: any;

// Long names in a narrow window: a request through 19 services with long names, a long route,
// a long resource, all in an 800 px wide window. Nothing may run past the window's edge (the
// page never scrolls sideways), every column of the trace list stays in view, and cut names
// say in full what they are on hover.

let ui: UiSession;
let wideTraceId: string;
const SERVICES = Array.from(
  { length: 18 },
  (_, i) => `fulfilment-reservation-service-${String(i + 1).padStart(2, '0')}-eu-west`,
);
const ROUTE = '/api/v2/organisations/:organisationId/warehouses/:warehouseId/reservations';
const RESOURCE = 'inventory:warehouse-eu-west-1:stock-keeping-unit:0042-extra-long-name';

beforeAll(async () => {
  ui = await startUiSession({ width: 800, height: 900 });
  const now = Date.now() * 1000;
  const wide = requestTrace({ route: ROUTE, startUs: now, durationMs: 400, calls: SERVICES });
  wideTraceId = wide[0]!.trace_id;
  await sendTraces(ui.collector.url, [
    wide,
    racingTrace({
      resource: RESOURCE,
      startUs: now - 5_000_000,
      services: [SERVICES[0]!, SERVICES[1]!],
    }),
    ...Array.from({ length: 5 }, (_, i) => requestTrace({ route: ROUTE, startUs: now - i - 1 })),
  ]);
  await ui.collector.analyzeNow();
});

afterEach(() => {
  expect(ui.takeProblems()).toEqual([]);
});

afterAll(async () => {
  await ui?.close();
});

/** How far the page runs past the window's right edge, in px (0: it does not). */
const overflow = () =>
  ui.page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );

describe('an 800 px window', () => {
  it('shows every column of the trace list, three service chips and "+N more"', async () => {
    await ui.open('/traces');
    const row = ui.page.locator(`[data-trace-id="${wideTraceId}"]`);
    await row.waitFor();
    expect(await overflow()).toBe(0);
    // Every cell ends inside its row: Races and Status are not cut off.
    const cut = await row.evaluate((element) => {
      const right = element.getBoundingClientRect().right;
      return [...element.children]
        .filter((cell) => cell.getBoundingClientRect().right > right + 0.5)
        .map((cell) => cell.textContent);
    });
    expect(cut).toEqual([]);
    const more = row.getByTestId('more-services');
    expect(await more.textContent()).toBe('+16 more');
    // It is shown whole, inside its cell: the other chips give way.
    expect(
      await more.evaluate((chip) => {
        const cell = chip.closest('[role=gridcell]')!.getBoundingClientRect();
        return (
          chip.scrollWidth <= chip.clientWidth && chip.getBoundingClientRect().right <= cell.right
        );
      }),
    ).toBe(true);
    // The rest are named on hover and for screen readers.
    expect(await more.getAttribute('title')).toContain(SERVICES[17]);
    // A route too long for its cell is cut with an ellipsis and named in full on hover.
    const route = row.locator('a');
    expect(await route.getAttribute('title')).toBe(`GET ${ROUTE}`);
    expect(await route.evaluate((a) => a.scrollWidth > a.clientWidth)).toBe(true);
    await ui.shot('traces-800');
  });

  it('keeps the filters of the trace list on the window, a long service name included', async () => {
    await ui.open(`/traces?service=${SERVICES[5]}`);
    await ui.page.locator('[data-trace-id]').first().waitFor();
    expect(await overflow()).toBe(0);
    const select = await ui.page.locator('select[name=service]').boundingBox();
    expect(select!.width).toBeLessThanOrEqual(220);
  });

  it.each([
    ['the trace', () => `/traces/${wideTraceId}`, 'trace-view'],
    ['the races', () => '/races', 'races-view'],
    ['the dependency graph', () => '/insights/dependencies', 'dependency-graph'],
    ['the services', () => '/insights/services', 'services-table'],
    ['the diagnostics', () => '/insights/diagnostics', 'insights-diagnostics'],
    [
      'the history',
      () => `/resources/history?resource=${encodeURIComponent(RESOURCE)}`,
      'history-view',
    ],
  ])('lays out %s without running past the window', async (name, path, testId) => {
    await ui.open(path());
    await ui.page.getByTestId(testId).waitFor();
    await ui.page.waitForTimeout(1000);
    expect(await overflow()).toBe(0);
    await ui.shot(`${name.replace(/^the /, '').replace(/ /g, '-')}-800`);
  });
});
