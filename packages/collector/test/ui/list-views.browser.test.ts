import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TracePage } from '../../src/api/schemas/index.js';
import type { StoredEvent } from '../../src/event.js';
import { hex } from '../fixtures.js';
import { startUiSession, type UiSession } from './browser.js';
import { requestTrace, sendTraces } from './seed.js';

// The page's globals, in the functions this file runs in the browser.
// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not this package's
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: as above
declare const window: any;

// The list-side views over 700 traces: search by attribute and by trace id, time presets with
// the count of matches, cursor paging to the oldest trace, picking two traces to compare,
// services over time, and the scatter's legend; axe-core in light and dark, an 800 px window.

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let ui: UiSession;
const nowMs = Date.now();
const now = nowMs * 1000;
const MINUTE_US = 60_000_000;
/** The 700 traces, newest first (a second apart, the newest 5 s ago). */
const recent: StoredEvent[][] = [];
/** Every 50th recent trace carries user.tier=gold: 14 of them. */
const gold: string[] = [];
/**
 * Three traces of `api` three hours ago: outside "last 15 min", inside "last 6 hours"; with
 * compare A, they carry legend=yes.
 */
const old: StoredEvent[][] = [];
let compareA: string;
let compareB: string;

/** A custom event with `attributes` in the root span of `events`. */
function withAttributes(events: StoredEvent[], attributes: Record<string, unknown>) {
  const root = events[0]!;
  events.push({
    ...root,
    id: hex(16),
    kind: 'custom',
    ts_us: root.ts_us + 10,
    data: { name: 'tier', attributes },
  });
  return events;
}

beforeAll(async () => {
  ui = await startUiSession();
  for (let i = 0; i < 700; i++) {
    const events = requestTrace({ route: '/list', startUs: now - 5_000_000 - i * 1_000_000 });
    if (i % 50 === 0) {
      withAttributes(events, { 'user.tier': 'gold' });
      gold.push(events[0]!.trace_id);
    } else if (i % 7 === 0) {
      // Near misses: another value, another key.
      withAttributes(events, i % 2 ? { 'user.tier': 'golden' } : { tier: 'gold' });
    }
    recent.push(events);
  }
  for (let i = 0; i < 3; i++) {
    const startUs = now - 3 * 3_600_000_000 - i * 1_000_000;
    old.push(
      withAttributes(requestTrace({ service: 'api', route: '/list', startUs }), { legend: 'yes' }),
    );
  }
  // Two requests of one route; the second also calls billing.
  const a = withAttributes(
    requestTrace({ route: '/compare-me', startUs: now - 1_000_000, calls: ['inventory'] }),
    { legend: 'yes' },
  );
  const b = requestTrace({
    route: '/compare-me',
    startUs: now - 2_000_000,
    durationMs: 30,
    calls: ['inventory', 'billing'],
  });
  compareA = a[0]!.trace_id;
  compareB = b[0]!.trace_id;
  // `steady` answers 60 requests in each of two whole minutes, ten minutes ago: 1 per second.
  const minute = (Math.floor(nowMs / 60_000) - 10) * MINUTE_US;
  const steady = Array.from({ length: 120 }, (_, i) =>
    requestTrace({ service: 'steady', route: '/tick', startUs: minute + i * 1_000_000 }),
  );
  await sendTraces(ui.collector.url, [...recent, ...old, a, b, ...steady]);
  await ui.collector.analyzeNow();
});

afterEach(() => {
  expect(ui.takeProblems()).toEqual([]);
});

afterAll(async () => {
  await ui?.close();
});

const rowCount = () => ui.page.getByTestId('trace-list').getAttribute('aria-rowcount').then(Number);
const matchCount = () => ui.page.getByTestId('match-count').textContent();
const shownIds = () =>
  ui.page.locator('[data-trace-id]').evaluateAll((rows) => rows.map((r) => r.dataset.traceId));

/** How far the page runs past the window's right edge, in px (0: it does not). */
const overflow = () =>
  ui.page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );

async function axeViolations(): Promise<string[]> {
  await ui.page.evaluate(AXE);
  return ui.page.evaluate(async () => {
    const { violations } = await window.axe.run(document);
    return violations.flatMap((v: { id: string; nodes: Array<{ target: string[] }> }) =>
      v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`),
    );
  });
}

describe('trace search', () => {
  it('finds exactly the 14 traces with an attribute among 700, typed into the filter', async () => {
    await ui.open('/traces?route=list');
    await expect.poll(matchCount).toBe('703 traces match');
    const field = ui.page.locator('input[name=attr]');
    await field.fill('user.tier=gold');
    await field.press('Enter');
    await ui.page.waitForURL(/attr=user.tier%3Dgold/);
    await expect.poll(matchCount).toBe('14 traces match');
    expect(await rowCount()).toBe(14);
    expect((await shownIds()).sort()).toEqual([...gold].sort());
  });

  it('opens a trace from the trace id box, by a prefix of its id', async () => {
    await ui.open('/traces');
    const id = recent[123]![0]!.trace_id;
    await ui.page.locator('input[name=trace-id]').fill(id.slice(0, 14).toUpperCase());
    await ui.page.locator('input[name=trace-id]').press('Enter');
    await ui.page.waitForURL(new RegExp(`/traces/${id}$`));
    await ui.page.getByTestId('trace-view').waitFor();
  });

  it('says so when no trace id starts with what was typed', async () => {
    await ui.open('/traces');
    // No stored id starts with 16 zeros (random ids).
    await ui.page.locator('input[name=trace-id]').fill('0000000000000000');
    await ui.page.locator('input[name=trace-id]').press('Enter');
    await expect
      .poll(() => ui.page.getByTestId('trace-id-message').textContent())
      .toContain('No stored trace id starts with 0000000000000000');
  });

  it('narrows the list with a time preset, and the count follows', async () => {
    await ui.open('/traces?route=list');
    await expect.poll(matchCount).toBe('703 traces match');
    await ui.page.locator('select[name=range]').selectOption('15m');
    await ui.page.waitForURL(/range=15m/);
    await expect.poll(matchCount).toBe('700 traces match');
    await ui.page.locator('select[name=range]').selectOption('6h');
    await expect.poll(matchCount).toBe('703 traces match');
    // "custom" shows the date-time fields; an old link with from/to still works.
    const hourAgo = new Date(nowMs - 3_600_000);
    const pad = (n: number) => String(n).padStart(2, '0');
    const local = `${hourAgo.getFullYear()}-${pad(hourAgo.getMonth() + 1)}-${pad(hourAgo.getDate())}T${pad(hourAgo.getHours())}:${pad(hourAgo.getMinutes())}`;
    await ui.open(`/traces?route=list&from=${local}`);
    await expect.poll(matchCount).toBe('700 traces match');
    expect(await ui.page.locator('select[name=range]').inputValue()).toBe('custom');
    expect(await ui.page.locator('input[name=from]').count()).toBe(1);
  });

  it('pages with the cursor to the oldest of 700 traces, each once', async () => {
    const served: string[] = [];
    const listen = async (response: {
      url(): string;
      json(): Promise<unknown>;
      status(): number;
    }) => {
      const url = new URL(response.url());
      if (url.pathname !== '/api/traces' || response.status() !== 200) return;
      // Older pages only (the first one is polled again and again).
      if (!url.searchParams.has('cursor')) return;
      served.push(...((await response.json()) as TracePage).traces.map((t) => t.trace_id));
    };
    ui.page.on('response', listen);
    await ui.open('/traces?range=15m&route=list');
    await expect
      .poll(() => ui.page.getByTestId('trace-count').textContent())
      .toMatch(/^newest 500/);
    await ui.page.getByTestId('load-more').click();
    await expect.poll(rowCount).toBe(700);
    expect(await ui.page.getByTestId('load-more').count()).toBe(0);
    ui.page.off('response', listen);
    // The older page holds the 200 oldest, none of the newest 500.
    expect(served).toEqual(recent.slice(500).map((t) => t[0]!.trace_id));
    await ui.page.getByTestId('trace-list').focus();
    await ui.page.keyboard.press('End');
    await expect
      .poll(() =>
        ui.page.locator('[aria-selected=true] [data-trace-id]').getAttribute('data-trace-id'),
      )
      .toBe(recent[699]![0]!.trace_id);
    await ui.shot('traces-search-1400');
  });

  it('keeps the filters when "Traces" leads back from a trace, and downloads the trace as JSON', async () => {
    await ui.open('/traces?route=compare-me&status=ok');
    await ui.page.locator(`[data-trace-id="${compareA}"]`).waitFor();
    await ui.page.locator(`[data-trace-id="${compareA}"] a`).click();
    await ui.page.getByTestId('trace-view').waitFor();
    const download = ui.page.waitForEvent('download');
    await ui.page.getByTestId('download-trace').click();
    const file = await (await download).path();
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expect(json.trace_id).toBe(compareA);
    const services = (spans: Array<{ service: string; children: unknown[] }>): string[] =>
      spans.flatMap((s) => [s.service, ...services(s.children as typeof spans)]);
    expect(services(json.spans).sort()).toEqual(['frontend', 'frontend', 'inventory']);
    await ui.page.locator('.crumbs a', { hasText: 'Traces' }).click();
    await ui.page.waitForURL(/\/traces\?route=compare-me&status=ok$/);
  });
});

describe('the scatter', () => {
  it('has a legend of distinct colours and an axis that starts at 0', async () => {
    await ui.open('/traces?attr=legend%3Dyes');
    await expect.poll(matchCount).toBe('4 traces match');
    const legend = ui.page.getByTestId('scatter-legend');
    expect(await legend.textContent()).toBe('Root service:apifrontend');
    // api and frontend, whose hashed colours were both magenta, are told apart.
    const fills = await legend
      .locator('circle')
      .evaluateAll((dots) => dots.map((d) => d.style.fill));
    expect(fills).toHaveLength(2);
    expect(fills[0]).not.toBe(fills[1]);
    const axis = await ui.page.locator('.scatter .axis').allTextContents();
    expect(axis[0]).toBe('0');
    expect(axis.join(' ')).not.toContain('0.00 ms');
    // One date above the list, none repeated in the rows of today.
    expect(await ui.page.getByTestId('date-header').textContent()).toBe(
      await ui.page.evaluate(() =>
        new Intl.DateTimeFormat(undefined, { dateStyle: 'long' }).format(new Date()),
      ),
    );
    const started = await ui.page
      .locator('[data-trace-id] [role=gridcell]:nth-child(2)')
      .first()
      .textContent();
    expect(started).toMatch(/^\d\d:\d\d:\d\d\.\d{3}$/);
  });
});

describe('compare', () => {
  it('picks two traces with the keyboard and shows the span B added', async () => {
    await ui.open('/traces?route=compare-me');
    await ui.page.locator(`[data-trace-id="${compareB}"]`).waitFor();
    await ui.page.getByTestId('trace-list').focus();
    await ui.page.keyboard.press('ArrowDown');
    await ui.page.keyboard.press(' ');
    await ui.page.keyboard.press('ArrowDown');
    await ui.page.keyboard.press(' ');
    await expect
      .poll(() => ui.page.getByTestId('compare-picked').textContent())
      .toBe('2 traces picked to compare');
    await ui.page.getByTestId('compare').click();
    await ui.page.waitForURL(new RegExp(`/compare\\?a=${compareA}&b=${compareB}`));
    const added = ui.page.locator('[data-testid=compare-spans] tr[data-change=added]');
    await added.first().waitFor();
    expect(await added.allTextContents()).toEqual([
      expect.stringMatching(/frontend\s*POST billing:8080.*only in B/),
      expect.stringMatching(/billing\s*POST \/work.*only in B/),
    ]);
    expect(
      await ui.page.locator('[data-testid=compare-spans] tr[data-change=missing]').count(),
    ).toBe(0);
    const services = await ui.page.getByTestId('compare-services').textContent();
    expect(services).toContain('billing');
    await ui.page.locator('[data-testid=compare-critical] li').first().waitFor();
    await ui.shot('compare-1400');
  });
});

describe('services over time', () => {
  it('charts the rate of a service with known traffic: 1 request a second', async () => {
    await ui.open('/insights/timeline');
    const card = ui.page.getByTestId('timeline-service-steady');
    await card.waitFor();
    expect(await card.getAttribute('data-peak-rate')).toBe('1');
    expect(await card.textContent()).toContain('peak 1.0/s');
    await ui.page.getByTestId('timeline-edge-frontend-inventory').waitFor();
    await ui.shot('services-over-time-1400');
  });
});

describe('axe-core and an 800 px window', () => {
  const views: Array<[string, () => string, string]> = [
    ['traces-search', () => '/traces?attr=user.tier%3Dgold&range=1h', '[data-trace-id]'],
    ['compare', () => `/compare?a=${compareA}&b=${compareB}`, '[data-testid=compare-critical] li'],
    ['services-over-time', () => '/insights/timeline', '[data-testid=timeline-service-steady]'],
  ];
  for (const scheme of ['light', 'dark'] as const) {
    it.each(views)(`finds no violation on %s in ${scheme} mode`, async (_name, path, ready) => {
      await ui.page.emulateMedia({ colorScheme: scheme });
      await ui.open(path());
      await ui.page.locator(ready).first().waitFor();
      expect(await axeViolations()).toEqual([]);
    });
  }

  it.each(views)(
    'lays out %s in 800 px without running past the window',
    async (name, path, ready) => {
      await ui.page.emulateMedia({ colorScheme: 'light' });
      await ui.page.setViewportSize({ width: 800, height: 900 });
      try {
        await ui.open(path());
        await ui.page.locator(ready).first().waitFor();
        expect(await overflow()).toBe(0);
        await ui.shot(`${name}-800`);
      } finally {
        await ui.page.setViewportSize({ width: 1400, height: 1000 });
      }
    },
  );
});
