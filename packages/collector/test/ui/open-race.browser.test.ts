import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startUiSession, type UiSession } from './browser.js';
import { racingTrace, requestTrace, sendTraces } from './seed.js';

// The page's globals, in the functions this file runs in the browser (the package is typed
// for Node, without the DOM).
// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not this package's
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: as above
declare const window: any;

// "Open in trace" from the races: the trace opens with the race named above its space-time
// view and the racing accesses scrolled into the window and marked; a race across traces shows
// its accesses in both traces and opens the other side in one click.

let ui: UiSession;
let traceIds: string[];

beforeAll(async () => {
  // A short window: the space-time view starts below the fold.
  ui = await startUiSession({ width: 1000, height: 600 });
  const now = Date.now() * 1000;
  // Two checkouts at the same moment, each racing within itself and with the other on
  // stock:mug; the services are many, so the accesses are also right of the first screen.
  const calls = ['auth', 'catalogue', 'pricing', 'tax', 'shipping', 'loyalty'];
  const traces = [0, 1].map((i) =>
    racingTrace({ resource: 'stock:mug', startUs: now - 3_000_000 + i * 300, route: '/checkout' }),
  );
  traceIds = traces.map((t) => t[0]!.trace_id);
  await sendTraces(ui.collector.url, [
    ...traces,
    requestTrace({ route: '/browse', startUs: now, calls }),
  ]);
  await ui.collector.analyzeNow();
});

afterEach(() => {
  expect(ui.takeProblems()).toEqual([]);
});

afterAll(async () => {
  await ui?.close();
});

/** Whether every marked access of the space-time view lies inside the window. */
async function markedAccessesInWindow(): Promise<{ marked: number; outside: number }> {
  const marked = ui.page.locator('.st-event[data-selected=true] .dot');
  await marked.first().waitFor();
  // Scrolling is smooth on no account here, but it happens after the first paint.
  await ui.page.waitForFunction(() => {
    const dot = document.querySelector('.st-event[data-selected=true] .dot');
    const r = dot?.getBoundingClientRect();
    return !!r && r.top >= 0 && r.bottom <= window.innerHeight;
  });
  return ui.page.evaluate(() => {
    const dots = [...document.querySelectorAll('.st-event[data-selected=true] .dot')];
    const outside = dots.filter((dot) => {
      const r = dot.getBoundingClientRect();
      return (
        r.top < 0 || r.bottom > window.innerHeight || r.left < 0 || r.right > window.innerWidth
      );
    });
    return { marked: dots.length, outside: outside.length };
  });
}

describe('opening a race in its trace', () => {
  it('scrolls to the racing accesses, marks them and shows both sides of a race across traces', async () => {
    await ui.open('/races?scope=cross');
    const race = ui.page.locator('li.race').first();
    await race.waitFor();
    const link = race.getByTestId('open-race').first();
    const target = new URL(`http://x${await link.getAttribute('href')}`);
    const raceId = target.searchParams.get('race');
    expect(raceId).toBeTruthy();
    const opened = target.pathname.split('/').pop()!;
    await link.click();
    await ui.page.waitForURL(new RegExp(`/traces/${opened}\\?.*race=${raceId}`));

    const focus = ui.page.getByTestId('race-focus');
    await focus.waitFor();
    expect(await focus.textContent()).toContain('stock:mug');
    const inWindow = await markedAccessesInWindow();
    expect(inWindow.marked).toBeGreaterThanOrEqual(2);
    expect(inWindow.outside).toBe(0);
    await ui.shot('trace-race-opened');

    // Both traces' accesses are listed; the other trace's link opens it with its side marked.
    const rows = focus.locator('[data-testid=race-evidence] tbody tr');
    const tracesListed = await rows.evaluateAll((all) => [
      ...new Set(all.map((row) => row.getAttribute('data-trace-id'))),
    ]);
    expect(tracesListed.sort()).toEqual([...traceIds].sort());
    const other = traceIds.find((id) => id !== opened)!;
    const otherEvents = await rows.evaluateAll(
      (all, id) =>
        all
          .filter((row) => row.getAttribute('data-trace-id') === id)
          .map((row) => row.getAttribute('data-event-id')),
      other,
    );
    await focus.getByTestId('other-side').first().click();
    await ui.page.waitForURL(new RegExp(`/traces/${other}\\?.*race=${raceId}`));
    await ui.page.getByTestId('race-focus').waitFor();
    const marked = await markedAccessesInWindow();
    expect(marked.outside).toBe(0);
    const selected = await ui.page
      .locator('.st-event[data-selected=true]')
      .evaluateAll((all) => all.map((g) => g.getAttribute('data-event-id')).sort());
    expect(selected).toEqual([...otherEvents].sort());
  });

  it('selects the accesses named by race= alone', async () => {
    await ui.open('/races?scope=cross');
    const href = await ui.page.getByTestId('open-race').first().getAttribute('href');
    const url = new URL(`http://x${href}`);
    const events = url.searchParams.get('events')!.split(',').sort();
    await ui.open(`${url.pathname}?race=${url.searchParams.get('race')}`);
    await ui.page.getByTestId('race-focus').waitFor();
    await markedAccessesInWindow();
    const selected = await ui.page
      .locator('.st-event[data-selected=true]')
      .evaluateAll((all) => all.map((g) => g.getAttribute('data-event-id')).sort());
    expect(selected).toEqual(events);
  });
});
