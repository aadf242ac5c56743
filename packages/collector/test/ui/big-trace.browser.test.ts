import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/event.js';
import { makeTrace } from './big-trace.mjs';
import { startUiSession, type UiSession } from './browser.js';
import { sendTraces } from './seed.js';

// The page's globals, in the functions this file runs in the browser (the package is typed
// for Node, without the DOM).
// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not this package's
declare const document: any;
// biome-ignore lint/suspicious/noExplicitAny: as above
declare const window: any;

// A big trace in the trace view: 2,001 spans of 19 services sent through the real ingest.
// Subtrees fold and unfold; a drag on the overview zooms the waterfall and the space-time view
// together; the search in the trace finds a span and scrolls it into view; the span panel
// stands beside the waterfall with the span's attributes, events and clock; a space-time
// event shows its clock on hover and on keyboard focus; the duration labels stay inside the
// timeline; a service's contexts fold into one column; nothing runs past an 800 px window.

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let ui: UiSession;
let big: { traceId: string; events: StoredEvent[]; spans: number };

beforeAll(async () => {
  ui = await startUiSession({ width: 1400, height: 1000 });
  big = makeTrace(20, 49);
  // In batches of 1,000 events, as an SDK's exporter sends them.
  for (let i = 0; i < big.events.length; i += 1000) {
    await sendTraces(ui.collector.url, [big.events.slice(i, i + 1000)]);
  }
  await ui.collector.analyzeNow();
}, 120_000);

afterEach(() => {
  expect(ui.takeProblems()).toEqual([]);
});

afterAll(async () => {
  await ui?.close();
});

async function openBig(width = 1400) {
  await ui.page.setViewportSize({ width, height: 1000 });
  await ui.page.emulateMedia({ colorScheme: 'light' });
  await ui.open(`/traces/${big.traceId}`);
  await ui.page.locator('[data-testid=trace-view][data-complete=true]').waitFor();
  await ui.page.locator('[data-testid=space-time] .st-event').first().waitFor();
}

/** The root span's id: the waterfall's first row. */
const rootId = () => big.events.find((e) => e.parent_span_id === null)!.span_id;

/** The span ids drawn in the waterfall (its rows in view and the few around them). */
const drawnSpans = () =>
  ui.page.$$eval('[data-testid=waterfall] [data-span-id]', (rows) =>
    rows.map((row) => row.getAttribute('data-span-id')),
  );

describe('a trace of 2,001 spans', () => {
  it('was stored whole', async () => {
    const answer = await fetch(`${ui.collector.url}/api/traces/${big.traceId}?limit=1`);
    const trace = (await answer.json()) as { span_count: number };
    expect(trace.span_count).toBe(2001);
  });

  it('folds a subtree, hiding its spans, and unfolds it again', async () => {
    await openBig();
    const rows = ui.page.getByTestId('waterfall');
    // The first call of the root (a client span) and the server span under it.
    const child = big.events.find((e) => e.parent_span_id === rootId())!.span_id;
    const grandchild = big.events.find((e) => e.parent_span_id === child)!.span_id;
    expect(await drawnSpans()).toContain(grandchild);
    const before = Number(await rows.getAttribute('aria-rowcount'));
    expect(before).toBe(2001);

    await ui.page.locator(`[data-span-id="${child}"] [data-testid=fold]`).click();
    expect(await drawnSpans()).not.toContain(grandchild);
    // Everything below the call is gone: the server span and its 49 calls of two spans each.
    expect(Number(await rows.getAttribute('aria-rowcount'))).toBe(before - 1 - 49 * 2);
    expect(
      await ui.page
        .locator(`[data-span-id="${child}"] [data-testid=fold]`)
        .getAttribute('aria-expanded'),
    ).toBe('false');

    await ui.page.locator(`[data-span-id="${child}"] [data-testid=fold]`).click();
    expect(await drawnSpans()).toContain(grandchild);
    expect(Number(await rows.getAttribute('aria-rowcount'))).toBe(before);
  });

  it('folds and unfolds with the arrow keys on the selected span', async () => {
    await openBig();
    const child = big.events.find((e) => e.parent_span_id === rootId())!.span_id;
    await ui.page.locator(`[data-span-id="${child}"]`).click();
    await ui.page.getByTestId('waterfall').focus();
    await ui.page.keyboard.press('ArrowLeft');
    await expect
      .poll(() => ui.page.getByTestId('waterfall').getAttribute('aria-rowcount'))
      .toBe(String(2001 - 99));
    await ui.page.keyboard.press('ArrowRight');
    await expect
      .poll(() => ui.page.getByTestId('waterfall').getAttribute('aria-rowcount'))
      .toBe('2001');
  });

  it('zooms the waterfall and the space-time view together with a drag on the overview', async () => {
    await openBig();
    const scale = ui.page.getByTestId('waterfall-scale');
    const wholeEnd = await scale.locator('span').last().textContent();
    const eventsBefore = Number(
      await ui.page.getByTestId('space-time').getAttribute('data-events'),
    );
    expect(eventsBefore).toBe(big.events.length);
    const box = (await ui.page.getByTestId('overview-strip').boundingBox())!;
    // Drag across the tenth to the fifth of the trace.
    await ui.page.mouse.move(box.x + box.width * 0.1, box.y + box.height / 2);
    await ui.page.mouse.down();
    await ui.page.mouse.move(box.x + box.width * 0.15, box.y + box.height / 2, { steps: 4 });
    await ui.page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2, { steps: 4 });
    await ui.page.mouse.up();

    await ui.page.getByTestId('overview-window').waitFor();
    // The waterfall's scale is the window's, not the whole trace's.
    await expect.poll(() => scale.locator('span').last().textContent()).not.toBe(wholeEnd);
    const totalMs = (big.events.at(-1)!.ts_us - big.events[0]!.ts_us) / 1000;
    const [from, , to] = await scale.locator('span').allTextContents();
    const ms = (text: string | undefined) =>
      text!.endsWith(' s') ? Number.parseFloat(text!) * 1000 : Number.parseFloat(text!);
    expect(ms(from)).toBeGreaterThan(totalMs * 0.08);
    expect(ms(to)).toBeLessThan(totalMs * 0.22);
    // The space-time view draws the window's events only: about a tenth of them.
    const eventsAfter = Number(await ui.page.getByTestId('space-time').getAttribute('data-events'));
    expect(eventsAfter).toBeGreaterThan(0);
    expect(eventsAfter).toBeLessThan(eventsBefore * 0.2);
    // And it shows them: scrolled to the window's first events, down and sideways.
    await expect
      .poll(() =>
        ui.page.getByTestId('space-time').evaluate((box) => {
          const frame = box.getBoundingClientRect();
          return [...box.querySelectorAll('.st-event .dot')].filter((dot) => {
            const at = dot.getBoundingClientRect();
            return (
              at.left >= frame.left &&
              at.right <= frame.right &&
              at.top >= frame.top &&
              at.bottom <= frame.bottom
            );
          }).length;
        }),
      )
      .toBeGreaterThanOrEqual(5);

    // And back to the whole trace in both.
    await ui.page.getByTestId('zoom-reset').click();
    await expect.poll(() => scale.locator('span').last().textContent()).toBe(wholeEnd);
    expect(Number(await ui.page.getByTestId('space-time').getAttribute('data-events'))).toBe(
      eventsBefore,
    );
  });

  it('finds a span by attribute, unfolds the way to it, selects it and scrolls it into view', async () => {
    await openBig();
    await ui.page.getByTestId('fold-all').click();
    // A leaf far down the trace, of a resource numbered 10 to 96 (no other's name holds it).
    const target = big.events
      .filter((e) => e.kind === 'state_write' && /:item:\d\d$/.test(String(e.data.resource)))
      .at(-3)!;
    const resource = (target.data as { resource: string }).resource;
    const matching = big.events.filter(
      (e) => e.kind === 'state_write' && (e.data as { resource: string }).resource === resource,
    );
    expect(await drawnSpans()).not.toContain(target.span_id);
    await ui.page.getByTestId('trace-search').fill(`resource=${resource}`);
    await ui.page.getByTestId('trace-search').press('Enter');
    await expect
      .poll(() => ui.page.getByTestId('trace-search-count').textContent())
      .toBe(`1 of ${matching.length}`);
    await ui.page.waitForURL(new RegExp(`span=${matching[0]!.span_id}`));
    const row = ui.page.locator(`[data-testid=waterfall] [data-span-id="${matching[0]!.span_id}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-match')).toBe('true');
    // In the waterfall's visible box, not only in the DOM.
    const inView = await row.evaluate((element) => {
      const list = element.closest('[role=grid]')!.getBoundingClientRect();
      const box = element.getBoundingClientRect();
      return box.top >= list.top && box.bottom <= list.bottom;
    });
    expect(inView).toBe(true);
    await expect
      .poll(() => ui.page.getByTestId('span-panel').getAttribute('data-span-id'))
      .toBe(matching[0]!.span_id);
  });

  it('finds spans by service and by route', async () => {
    await openBig();
    await ui.page.getByTestId('trace-search').fill('/ledger/items');
    const servers = new Set(
      big.events
        .filter((e) => e.kind === 'request_received' && e.data.route === '/ledger/items/:id')
        .map((e) => e.span_id),
    );
    const clients = new Set(
      big.events
        .filter((e) => e.kind === 'request_sent' && String(e.data.url).includes('/ledger/items'))
        .map((e) => e.span_id),
    );
    await expect
      .poll(() => ui.page.getByTestId('trace-search-count').textContent())
      .toBe(`1 of ${servers.size + clients.size}`);
    await ui.page.getByTestId('trace-search').fill('nothing-is-called-this');
    await expect
      .poll(() => ui.page.getByTestId('trace-search-count').textContent())
      .toBe('no match');
  });

  it('shows the selected span beside the waterfall: duration, status, attributes, events, clock', async () => {
    await openBig();
    const server = big.events.find(
      (e) => e.kind === 'request_received' && e.parent_span_id !== null,
    )!;
    await ui.page.locator(`[data-span-id="${server.parent_span_id}"] [data-testid=fold]`).waitFor();
    await ui.page.locator(`[data-testid=waterfall] [data-span-id="${server.span_id}"]`).click();
    const panel = ui.page.getByTestId('span-panel');
    await expect.poll(() => panel.getAttribute('data-span-id')).toBe(server.span_id);
    expect(await panel.getByTestId('span-status').textContent()).toContain('HTTP 200');
    expect(await panel.getByTestId('span-duration').textContent()).toMatch(/ms$/);
    expect(await panel.locator('[data-attribute=route]').textContent()).toBe(server.data.route);
    expect(await panel.locator('[data-attribute=service]').textContent()).toBe(server.service);
    const spanEvents = big.events.filter((e) => e.span_id === server.span_id);
    expect(await panel.getByTestId('span-events').locator('li').count()).toBe(spanEvents.length);
    const last = spanEvents.at(-1)!;
    expect(await panel.getByTestId('span-clock').textContent()).toContain(
      `${last.component}: ${last.clock[last.component]}`,
    );
    // Beside the waterfall, level with it, not below it.
    const list = (await ui.page.getByTestId('waterfall').boundingBox())!;
    const side = (await panel.boundingBox())!;
    expect(side.x).toBeGreaterThanOrEqual(list.x + list.width);
    expect(side.y).toBeLessThan(list.y + list.height);
    await ui.shot('big-trace-1400');
  });

  it('names every service of the critical path, those of a sliver under 8 % too', async () => {
    await openBig();
    const answer = await fetch(`${ui.collector.url}/api/traces/${big.traceId}/critical-path`);
    const { critical_path: path } = (await answer.json()) as {
      critical_path: { services: Array<{ service: string; percent: number }> };
    };
    const slivers = path.services.filter((s) => s.percent < 8);
    expect(slivers.length).toBeGreaterThan(0);
    for (const { service } of slivers) {
      const item = ui.page.locator(`[data-testid=critical-legend] [data-service="${service}"]`);
      expect(await item.isVisible()).toBe(true);
      expect(await item.textContent()).toContain(service);
    }
  });

  it('keeps every duration label inside the timeline', async () => {
    await openBig();
    const cut = await ui.page.$$eval('[data-testid=waterfall] .timeline', (cells) =>
      cells.flatMap((cell) => {
        const box = cell.getBoundingClientRect();
        const label = cell.querySelector('[data-testid=bar-label]');
        if (!label) return [];
        const at = label.getBoundingClientRect();
        return at.right > box.right + 0.5 || at.left < box.left - 0.5 ? [label.textContent] : [];
      }),
    );
    expect(cut).toEqual([]);
    // The root ends at the right edge: its label is whole there too.
    const rootLabel = ui.page.locator(`[data-span-id="${rootId()}"] [data-testid=bar-label]`);
    expect(await rootLabel.isVisible()).toBe(true);
  });

  it('shows a space-time event’s clock on hover and on keyboard focus, at once', async () => {
    await openBig();
    const event = ui.page.locator('[data-testid=space-time] .st-event').nth(3);
    const id = await event.getAttribute('data-event-id');
    const stored = big.events.find((e) => e.id === id)!;
    const clock = `${stored.component}: ${stored.clock[stored.component]}`;
    await event.hover();
    await expect.poll(() => ui.page.getByTestId('clock-tip').textContent()).toContain(clock);
    await ui.page.mouse.move(0, 0);
    await ui.page.getByTestId('clock-tip').waitFor({ state: 'detached' });
    await event.focus();
    await expect.poll(() => ui.page.getByTestId('clock-tip').textContent()).toContain(clock);
    expect(await event.getAttribute('aria-describedby')).toBe('st-tip');
  });

  it('folds a service’s contexts into one column and unfolds them', async () => {
    await openBig();
    const fold = ui.page.locator('[data-testid=fold-service][data-service=api]');
    const width = () =>
      ui.page.locator('[data-testid=space-time] svg').evaluate((svg) => svg.getAttribute('width'));
    const before = Number(await width());
    await fold.click();
    await expect.poll(async () => Number(await width())).toBeLessThan(before);
    expect(await fold.getAttribute('aria-expanded')).toBe('false');
    await fold.click();
    await expect.poll(async () => Number(await width())).toBe(before);
  });

  it('names a cut span name in full on keyboard focus', async () => {
    await openBig();
    const child = big.events.find((e) => e.parent_span_id === rootId())!.span_id;
    await ui.page.locator(`[data-span-id="${child}"]`).click();
    await ui.page.getByTestId('waterfall').focus();
    await ui.page.keyboard.press('ArrowDown');
    await ui.page.keyboard.press('ArrowUp');
    const tip = ui.page.locator(`[data-span-id="${child}"] .name-tip`);
    expect(await tip.isVisible()).toBe(true);
    expect(await tip.textContent()).toContain('frontend POST http://api:8080/api/work');
    expect(
      await ui.page.locator(`[data-span-id="${child}"] .span-label`).getAttribute('title'),
    ).toBe(await tip.textContent());
  });

  it('lays out at 800 px without running past the window', async () => {
    await openBig(800);
    const overflow = await ui.page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBe(0);
    await ui.shot('big-trace-800');
  });

  for (const scheme of ['light', 'dark'] as const) {
    it(`has no axe-core violation in ${scheme} mode, a span selected and the view zoomed`, async () => {
      await openBig();
      await ui.page.emulateMedia({ colorScheme: scheme });
      const child = big.events.find((e) => e.parent_span_id === rootId())!.span_id;
      await ui.page.locator(`[data-span-id="${child}"]`).click();
      await ui.page.getByTestId('trace-search').fill('ledger');
      await ui.page.getByTestId('overview-strip').focus();
      await ui.page.keyboard.press('+');
      await ui.page.getByTestId('overview-window').waitFor();
      await ui.page.evaluate(AXE);
      const violations = await ui.page.evaluate(async () => {
        const { violations } = await window.axe.run(document);
        return (violations as Array<{ id: string; nodes: Array<{ target: string[] }> }>).flatMap(
          (v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`),
        );
      });
      expect(violations).toEqual([]);
      await ui.shot(`big-trace-${scheme}`);
    });
  }
});
