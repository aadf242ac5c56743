import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Collector, startCollector } from '@raceway/collector';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, watchPage } from '../src/browser.mjs';
import { collectorApi } from '../src/collector-api.mjs';
import { type CollectorProcess, startCollectorProcess } from '../src/collector-process.mjs';
import { type RunningShop, startShop } from '../src/launch.mjs';
import { stockLabel, stockResource } from '../src/stock.mjs';
import { browse, testCheckouts, type Visit } from '../src/traffic.mjs';

/** The stock of mug as the collector names it (from the SQL), and as it shows it. */
const MUG = stockResource('mug');
const MUG_LABEL = stockLabel('mug');
/** `resource=<name>` as a URL's query carries it, as a pattern. */
const resourceQuery = (name: string) =>
  new URLSearchParams({ resource: name }).toString().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// The web UI in a real browser (Debian's Chromium through playwright-core, which downloads
// nothing) against `raceway serve` fed by the six services of the shop. Screenshots of every
// view go to .raceway/ui-screenshots (gitignored) as test artifacts.

const SCREENSHOTS = fileURLToPath(new URL('../../../.raceway/ui-screenshots/', import.meta.url));

let dir: string;
let collector: CollectorProcess | undefined;
let shop: RunningShop | undefined;
let browser: Browser | undefined;
let page: Page;
let api: ReturnType<typeof collectorApi>;
let concurrent: Visit;
let browsing: Visit;
/** Console errors and requests that left the collector, per test. */
let problems: ReturnType<typeof watchPage>;
/** Chromium logs every 401 as a console error; only the read-key test expects one. */
let unauthorizedExpected = false;
/** The collectors the page may talk to: nothing else is loaded from anywhere. */
const collectorOrigins = new Set<string>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'raceway-ui-'));
  mkdirSync(SCREENSHOTS, { recursive: true });
  collector = await startCollectorProcess({
    port: 0,
    storage: `sqlite:${join(dir, 'collector.db')}`,
  });
  api = collectorApi(collector.url);
  collectorOrigins.add(new URL(collector.url).origin);
  shop = await startShop({ collectorUrl: collector.url, dataDir: dir, basePort: 0 });
  const frontend = shop.urls.frontend!;
  let sequential: Visit;
  ({ concurrent, sequential } = await testCheckouts(frontend));
  expect(sequential.status).toBe(201);
  // A browse goes through frontend, api, auth and inventory, not through order.
  browsing = await browse(frontend, 'tee');
  await shop.stop();
  await api.analyze();

  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  problems = watchPage(page, {
    origins: collectorOrigins,
    tolerate: (text) => unauthorizedExpected && text.includes('401 (Unauthorized)'),
  });
});

afterEach(() => {
  expect(problems.take()).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await shop?.stop();
  await collector?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function open(path: string) {
  await page.goto(`${collector!.url}${path}`);
}

const shot = (name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

describe('the web UI on the shop', () => {
  it('lists the traces of the shop, newest first, with the duration scatter', async () => {
    const { traces } = await api.get('/api/traces?limit=500');
    await open('/');
    await page.waitForURL(/\/traces$/);
    await page.locator('[data-trace-id]').first().waitFor();
    const shown = await page
      .locator('[data-trace-id]')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-trace-id')));
    expect(shown).toEqual(traces.map((t: { trace_id: string }) => t.trace_id));
    expect(shown).toContain(concurrent.traceId);
    expect(await page.locator('[data-testid=scatter] circle').count()).toBe(traces.length);
    await shot('traces');
  });

  it('moves through the trace list with the keyboard and opens a trace with Enter', async () => {
    await open('/traces');
    const list = page.getByTestId('trace-list');
    await list.locator('[data-trace-id]').first().waitFor();
    await list.focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    const second = await list
      .locator('[aria-selected=true] [data-trace-id]')
      .getAttribute('data-trace-id');
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/traces/${second}$`));
    await page.getByTestId('trace-view').waitFor();
  });

  it('filters traces to those through order when order is clicked in the dependency graph', async () => {
    await open('/insights/dependencies');
    const graph = page.getByTestId('dependency-graph');
    await graph.waitFor();
    const nodes = await graph
      .locator('[data-testid=dep-node]')
      .evaluateAll((all) => all.map((n) => n.getAttribute('data-service')).sort());
    expect(nodes).toEqual(['api', 'auth', 'frontend', 'inventory', 'order', 'payment']);
    const edges = await graph
      .locator('[data-edge]')
      .evaluateAll((all) => all.map((e) => e.getAttribute('data-edge')).sort());
    expect(edges).toEqual(
      ['api->auth', 'api->inventory', 'api->order', 'frontend->api', 'order->payment'].sort(),
    );
    // One line on the edge (calls, p99, errors only when there are some); p50 in its tooltip.
    const orderToPayment = graph.locator('[data-edge="order->payment"]');
    await expect
      .poll(() => orderToPayment.locator('.dep-label').textContent())
      .toMatch(/^3 calls · p99 [\d.]+ m?s$/);
    expect(await orderToPayment.locator('title').textContent()).toMatch(
      /^order → payment: 3 calls, 0 errors, p50 [\d.]+ m?s, p99 [\d.]+ m?s$/,
    );
    await shot('dependency-graph');

    await graph.locator('[data-service=order]').click();
    await page.waitForURL(/\/traces\?service=order$/);
    const { traces } = await api.get('/api/traces?service=order');
    await expect
      .poll(() =>
        page
          .locator('[data-trace-id]')
          .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-trace-id')).sort()),
      )
      .toEqual(traces.map((t: { trace_id: string }) => t.trace_id).sort());
    const services = await page
      .locator('[data-trace-id]')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-services')));
    expect(services.length).toBe(3);
    for (const list of services) expect(list?.split(' ')).toContain('order');
    expect(await page.locator(`[data-trace-id="${browsing.traceId}"]`).count()).toBe(0);
    await shot('traces-through-order');
  });

  it('opens the stock race in the trace view with both racing accesses marked', async () => {
    await open('/races');
    const resource = page.locator(`[data-testid=race-resource][data-resource="${MUG}"]`);
    await resource.waitFor();
    await shot('races');
    const race = resource.locator('[data-kind=lost_update]').filter({ hasText: 'within a trace' });
    // The badge says what the values say of the group: the API's outcome, in words.
    const raceId = await race.first().getAttribute('data-race-id');
    const { races } = await api.races(
      `?resource=${encodeURIComponent(MUG)}&scope=trace&limit=1000`,
    );
    const group = races.find((r: { id: string }) => r.id === raceId);
    const labels = {
      lost: 'update lost',
      not_lost: 'no harm this time',
      unknown: 'outcome unknown',
    };
    expect(group?.outcome).toBeDefined();
    expect(await race.first().getByTestId('race-outcome').textContent()).toBe(
      labels[group!.outcome as keyof typeof labels],
    );
    await race.first().locator('[data-testid=open-race]').first().click();
    await page.waitForURL(new RegExp(`/traces/${concurrent.traceId}\\?events=`));
    const marked = page.locator('[data-testid=space-time] [data-selected=true][data-racing=true]');
    await marked.first().waitFor();
    const sides = await marked.evaluateAll((all) => all.map((e) => e.getAttribute('data-service')));
    // The lost update: each side read and wrote the stock of mug.
    expect([...new Set(sides)].sort()).toEqual(['inventory', 'order']);
    expect(sides.length).toBeGreaterThanOrEqual(2);
    // The event panel shows the selected accesses with their clocks, and that they are concurrent.
    const panel = page.getByTestId('event-panel');
    expect(await panel.getByTestId('event-clock').count()).toBe(sides.length);
    await expect.poll(() => panel.textContent()).toMatch(/is concurrent with/);
    await shot('trace-race-selected');
  });

  it('opens the history of the stock of mug from its race, with the accesses of both services', async () => {
    await open('/races');
    const resource = page.locator(`[data-testid=race-resource][data-resource="${MUG}"]`);
    await resource.waitFor();
    const race = resource.locator('[data-kind=lost_update]').filter({ hasText: 'within a trace' });
    await race.first().getByTestId('race-history').click();
    await page.waitForURL(new RegExp(`/resources/history\\?${resourceQuery(MUG)}$`));
    const rows = page.locator('[data-testid=history-entry]');
    await rows.first().waitFor();
    const { entries } = await api.get(`/api/resources/history?resource=${encodeURIComponent(MUG)}`);
    expect(await rows.count()).toBe(entries.length);
    const shown = await rows.evaluateAll((all) =>
      all.map((r) => [r.getAttribute('data-service'), r.getAttribute('data-kind')]),
    );
    // In the API's order: time, and happens-before within a trace.
    expect(shown).toEqual(
      entries.map((e: { service: string; kind: string }) => [e.service, e.kind]),
    );
    const services = new Set(shown.map(([service]) => service));
    expect(services.has('inventory') && services.has('order')).toBe(true);
    expect(new Set(shown.map(([, kind]) => kind))).toEqual(new Set(['read', 'write']));
    const checkout = rows.filter({ has: page.locator(`a[title="${concurrent.traceId}"]`) });
    expect(await checkout.count()).toBeGreaterThanOrEqual(2);
    expect(await page.getByTestId('history-resource').inputValue()).toBe(MUG);
    await shot('resource-history');
  });

  it('shows the history of the resource typed in the search box on Enter, and keeps typing', async () => {
    await open('/resources/history');
    await page.getByTestId('empty').waitFor();
    const box = page.getByTestId('history-resource');
    // Typed as races show it, with the SKU: the collector digests it as the services do.
    await box.fill(MUG_LABEL);
    await box.press('Enter');
    await page.waitForURL(new RegExp(`/resources/history\\?${resourceQuery(MUG_LABEL)}$`));
    const rows = page.locator('[data-testid=history-entry]');
    await rows.first().waitFor();
    expect(await rows.count()).toBeGreaterThan(0);
    // What is being typed survives the view's refreshes (it polls every 5 s).
    await box.fill('stock:te');
    await page.waitForResponse((r) => r.url().includes('/api/resources/history'), {
      timeout: 15_000,
    });
    await page.waitForTimeout(100);
    expect(await box.inputValue()).toBe('stock:te');
    expect(page.url()).toMatch(new RegExp(`${resourceQuery(MUG_LABEL)}$`));
  });

  it("draws the checkout's critical path and names its biggest contributor", async () => {
    const { critical_path: path } = await api.criticalPath(concurrent.traceId!);
    await open(`/traces/${concurrent.traceId}`);
    const named = page.getByTestId('biggest-contributor');
    await named.waitFor();
    // payment's 150 ms of work lead the path; the UI names what the analysis found.
    expect(path.biggestContributor).toBe('payment');
    expect(await named.getAttribute('data-service')).toBe('payment');
    // One language only (every service runs the TypeScript SDK): the chips name none.
    expect(await page.locator('.chips [data-service]').count()).toBe(6);
    expect(await page.locator('.chips [data-language]').count()).toBe(0);
    await expect.poll(() => named.textContent()).toMatch(/is the biggest contributor/);
    const critical = await page
      .locator('[data-testid=waterfall] [data-critical=true]')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-service')));
    expect(new Set(critical)).toEqual(new Set(['frontend', 'api', 'auth', 'order', 'payment']));
    // The space-time view: one column per context, arrows for every call and response.
    const arrows = page.locator('[data-testid=space-time] [data-kind=call]');
    expect(await arrows.count()).toBeGreaterThanOrEqual(5);
    await page.locator('[data-testid=diagnostics]').waitFor();
    await shot('trace');
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot('trace-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('shows the services health and the diagnostics across traces', async () => {
    await open('/insights/services');
    const table = page.getByTestId('services-table');
    await table.waitFor();
    const rows = await table
      .locator('tbody tr')
      .evaluateAll((all) => all.map((r) => r.getAttribute('data-service')).sort());
    expect(rows).toEqual(['api', 'auth', 'frontend', 'inventory', 'order', 'payment']);
    // Every service of this shop runs the TypeScript SDK, and says so in its batches.
    const sdks = await table.getByTestId('service-sdk').allTextContents();
    expect(sdks).toHaveLength(rows.length);
    for (const sdk of sdks) expect(sdk).toMatch(/^javascript · @raceway\/core \d+\.\d+\.\d+/);
    await shot('services');

    await open('/insights/diagnostics');
    const { traces } = await api.diagnostics();
    if (traces.length === 0) {
      await page.getByTestId('empty').waitFor();
    } else {
      await page.getByTestId('diagnostics-list').waitFor();
      expect(await page.locator('[data-testid=diagnostics-list] > li').count()).toBe(traces.length);
    }
    await shot('diagnostics');
  });
});

describe('the web UI without data, and behind a read key', () => {
  let empty: Collector | undefined;
  afterAll(async () => {
    unauthorizedExpected = false;
    await empty?.close();
  });

  it('says how to send data when the collector has none, and asks for the read key', async () => {
    empty = await startCollector({
      port: 0,
      storage: 'sqlite::memory:',
      apiKeys: ['ingest-key'],
      readKeys: ['read-key'],
    });
    collectorOrigins.add(new URL(empty.url).origin);
    unauthorizedExpected = true;
    await page.goto(`${empty.url}/traces`);
    const dialog = page.getByRole('textbox', { name: 'Read key' });
    await dialog.waitFor();
    await shot('read-key');
    await dialog.fill('read-key');
    await page.keyboard.press('Enter');
    const state = page.getByTestId('empty');
    await state.waitFor();
    expect(await state.textContent()).toContain(`RACEWAY_URL=${empty.url}`);
    await shot('no-data');
    // The key is kept for this tab only, never in a URL or in localStorage.
    expect(await page.evaluate("sessionStorage.getItem('raceway.key')")).toBe('read-key');
    expect(await page.evaluate('localStorage.length')).toBe(0);
  });
});
