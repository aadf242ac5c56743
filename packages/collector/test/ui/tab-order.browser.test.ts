import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startUiSession, type UiSession } from './browser.js';
import { racingTrace, requestTrace, sendTraces } from './seed.js';
import { walkTabOrder } from './tab-walk.js';

// The page's globals, in the functions this file runs in the browser (the package is typed
// for Node, without the DOM).
// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not this package's
declare const document: any;

// Every view with the keyboard alone (WCAG 2.1.1 and 2.1.2): Tab, pressed from the top of the
// page, focuses every element the browser counts as focusable, gets stuck on none, and
// reaches the widget that manages each control kept out of the Tab order (a grid's rows, their
// links and ticks). Each view is walked in its richest state: filters set, rows picked, a race
// marked, a span selected, a search typed, the timelines zoomed.

let ui: UiSession;
const ids = { raced: '', browse: '', big: '' };
const now = Date.now();

beforeAll(async () => {
  ui = await startUiSession();
  const nowUs = now * 1000;
  const traces = [
    racingTrace({ resource: 'stock:mug', startUs: nowUs - 2_000_000 }),
    requestTrace({ route: '/browse', startUs: nowUs, calls: ['catalogue', 'pricing'] }),
    requestTrace({ route: '/pay', startUs: nowUs - 1_000_000, status: 502, calls: ['payment'] }),
  ];
  ids.raced = traces[0]![0]!.trace_id;
  ids.browse = traces[1]![0]!.trace_id;
  // A request that calls 30 services in turn, then two that race: 134 events, far more rows
  // than the diagram's frame shows, and the race's link below it.
  const fanOut = racingTrace({
    resource: 'stock:cup',
    route: '/fan-out',
    startUs: nowUs - 3_000_000,
    callsBefore: Array.from({ length: 30 }, (_, i) => `worker-${i + 1}`),
  });
  ids.big = fanOut[0]!.trace_id;
  await sendTraces(ui.collector.url, [...traces, fanOut]);
  await ui.collector.analyzeNow();
});

afterEach(() => {
  expect(ui.takeProblems()).toEqual([]);
});

afterAll(async () => {
  await ui?.close();
});

interface View {
  name: string;
  path: () => string;
  /** What shows once the view has its data. */
  ready: string;
  /** Brings the view to the state walked (after `ready`). */
  prepare?: () => Promise<void>;
}

/** Ticks the list's first two traces with the keyboard, as a user picking two to compare. */
async function pickTwoTraces() {
  await ui.page.getByTestId('trace-list').focus();
  for (const key of ['ArrowDown', ' ', 'ArrowDown', ' ']) await ui.page.keyboard.press(key);
  await ui.page.locator('[data-testid=compare]:enabled').waitFor();
}

const VIEWS: View[] = [
  { name: 'the traces list', path: () => '/traces', ready: '[data-trace-id]' },
  {
    name: 'trace search (every filter set, two traces picked)',
    path: () =>
      `/traces?service=frontend&route=%2F&status=ok&min_ms=0&max_ms=10000&range=custom&from=${now - 3_600_000}&to=${now + 3_600_000}`,
    ready: '[data-trace-id]',
    prepare: pickTwoTraces,
  },
  { name: 'a trace as opened', path: () => `/traces/${ids.raced}`, ready: '.st-event' },
  {
    name: 'a trace with a race marked, a span selected, a search and a zoom',
    path: () => `/traces/${ids.raced}`,
    ready: '.st-event',
    prepare: async () => {
      await ui.page.getByTestId('mark-race').first().click();
      await ui.page.getByTestId('race-focus').waitFor();
      await ui.page.locator('[data-span-id]').nth(1).click();
      await ui.page.getByTestId('span-panel').waitFor();
      await ui.page.getByTestId('trace-search').fill('inventory');
      await ui.page.getByTestId('overview-strip').focus();
      await ui.page.keyboard.press('+');
      await ui.page.getByTestId('zoom-reset').waitFor();
    },
  },
  {
    name: 'a trace of 134 events, its diagram taller than its frame',
    path: () => `/traces/${ids.big}`,
    ready: '.st-event',
  },
  {
    name: 'races (filtered, evidence shown)',
    path: () => '/races?service=inventory&scope=trace',
    ready: '[data-testid=race-resource]',
    prepare: async () => {
      await ui.page.getByRole('button', { name: 'show evidence' }).first().click();
      await ui.page.getByRole('button', { name: 'hide evidence' }).first().waitFor();
    },
  },
  { name: 'dependencies', path: () => '/insights/dependencies', ready: '[data-testid=dep-node]' },
  { name: 'services', path: () => '/insights/services', ready: '[data-testid=services-table]' },
  {
    name: 'services over time',
    path: () => '/insights/timeline',
    ready: '[data-testid^=timeline-service-]',
  },
  {
    name: 'diagnostics',
    path: () => '/insights/diagnostics',
    ready: '[data-testid=insights-diagnostics]',
  },
  {
    name: 'resource history',
    path: () => '/resources/history?resource=stock%3Amug',
    ready: '[data-testid=history-table]',
  },
  {
    name: 'compare',
    path: () => `/compare?a=${ids.raced}&b=${ids.browse}`,
    ready: '[data-testid=compare-spans]',
  },
];

describe('Tab', () => {
  it.each(VIEWS.map((view) => [view.name, view] as const))(
    'reaches every focusable element of %s',
    async (_, view) => {
      await ui.open(view.path());
      await ui.page.locator(view.ready).first().waitFor();
      await view.prepare?.();
      const walk = await walkTabOrder(ui.page);
      // The view has something to walk: a broken walk finding nothing would pass below.
      expect(walk.focusable.length).toBeGreaterThan(4);
      const report = { trappedOn: walk.trappedOn, missed: walk.missed, orphaned: walk.orphaned };
      expect(
        report,
        `Tab stops, in order:\n${walk.stops.map((s, i) => `${i + 1}. ${s}`).join('\n')}`,
      ).toEqual({ trappedOn: null, missed: [], orphaned: [] });
    },
  );
});

describe('the space-time diagram', () => {
  /** The focused event's label, its id, and how far its diagram is scrolled. */
  const focusedEvent = () =>
    ui.page.evaluate(() => {
      const active = document.activeElement;
      return {
        label: active?.getAttribute('aria-label') as string | null,
        id: active?.getAttribute('data-event-id') as string | null,
        scrolled: document.querySelector('[data-testid=space-time]').scrollTop as number,
      };
    });

  // One Tab stop for all its events: the arrow keys reach each of them, drawn or not yet.
  it('is one Tab stop whose arrow keys move from event to event, to the last of 134', async () => {
    await ui.open(`/traces/${ids.big}`);
    await ui.page.locator('.st-event').first().waitFor();
    expect(await ui.page.locator('.st-event[tabindex="0"]').count()).toBe(1);
    await ui.page.locator('.st-event[tabindex="0"]').focus();
    const first = await focusedEvent();
    expect(first.label).toBe('recv: request_received in frontend');

    const label = async () => (await focusedEvent()).label;
    await ui.page.keyboard.press('ArrowDown');
    await expect.poll(label).toBe('call: request_sent in frontend');
    await ui.page.keyboard.press('ArrowRight');
    await expect.poll(label).toBe('recv: request_received in worker-1');
    await ui.page.keyboard.press('ArrowLeft');
    await expect.poll(label).toBe('call: request_sent in frontend');

    // The root's response, far below the frame: drawn and scrolled to.
    await ui.page.keyboard.press('End');
    await expect.poll(label).toBe('resp: response_sent in frontend');
    expect((await focusedEvent()).scrolled).toBeGreaterThan(1000);
    // The Tab stop stays where the keys left it.
    await ui.page.keyboard.press('Shift+Tab');
    await ui.page.keyboard.press('Tab');
    expect(await label()).toBe('resp: response_sent in frontend');

    await ui.page.keyboard.press('Home');
    await expect.poll(async () => (await focusedEvent()).id).toBe(first.id);
    await ui.page.keyboard.press('Enter');
    await ui.page.waitForURL(new RegExp(`event=${first.id}`));
  });
});

describe('the Tab walk itself', () => {
  // What the walk reports, on a page made to fail it: a field that swallows Tab, a button
  // behind it, a grid kept out of the Tab order together with its row's link.
  it('reports a trap, an element never reached and a control no reached widget manages', async () => {
    const page = await ui.browser.newPage();
    try {
      await page.setContent(`
        <button>first</button>
        <div role="grid" aria-label="rows" tabindex="-1"><a href="#row" tabindex="-1">row</a></div>
        <input name="trap" />
        <button>after</button>
        <button hidden>hidden</button>
        <button disabled>disabled</button>
        <div inert><button>inert</button></div>
        <script>
          document.querySelector('[name=trap]').addEventListener('keydown', (event) => {
            if (event.key === 'Tab') event.preventDefault();
          });
        </script>`);
      const walk = await walkTabOrder(page);
      expect(walk.focusable).toEqual(['button "first"', 'input[name=trap]', 'button "after"']);
      expect(walk.trappedOn).toBe('input[name=trap]');
      expect(walk.missed).toEqual(['button "after"']);
      expect(walk.orphaned).toEqual(['div[role=grid] > a "row"']);
    } finally {
      await page.close();
    }
  });
});
