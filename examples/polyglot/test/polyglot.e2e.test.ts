import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, watchPage } from '@raceway/example-shop/src/browser.mjs';
import {
  collectorApi,
  flattenSpans,
  type RaceGroup,
  type SpanNode,
} from '@raceway/example-shop/src/collector-api.mjs';
import {
  type CollectorProcess,
  startCollectorProcess,
} from '@raceway/example-shop/src/collector-process.mjs';
import type { RunningShop } from '@raceway/example-shop/src/launch.mjs';
import { readStock, stockLabel, stockResource } from '@raceway/example-shop/src/stock.mjs';
import { checkout, testCheckouts, type Visit } from '@raceway/example-shop/src/traffic.mjs';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICES } from '../src/catalogue.mjs';
import { startPolyglotShop } from '../src/launch.mjs';
import { type IngestRecorder, startIngestRecorder } from './ingest-recorder.js';

// The polyglot shop as a user runs it: `raceway serve` and seven services in four languages
// (TypeScript, Python, Go, Rust) as separate processes on free ports, real HTTP between them,
// every SDK's own transport, and every assertion made on the collector's answers.

const languageOf = new Map(SERVICES.map((s) => [s.name, s.language]));
/** How each SDK names its language in its batches (spec/schemas/batch.schema.json `sdk`). */
const SDK_LANGUAGE: Record<string, string> = {
  TypeScript: 'javascript',
  Python: 'python',
  Go: 'go',
  Rust: 'rust',
};
const ALL = SERVICES.map((s) => s.name).sort();

let dir: string;
let collector: CollectorProcess | undefined;
let recorder: IngestRecorder | undefined;
let shop: RunningShop | undefined;
let api: ReturnType<typeof collectorApi>;
let concurrent: Visit;
let sequential: Visit;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'raceway-polyglot-'));
  collector = await startCollectorProcess({
    port: 0,
    storage: `sqlite:${join(dir, 'collector.db')}`,
  });
  api = collectorApi(collector.url);
  recorder = await startIngestRecorder(collector.url);
  shop = await startPolyglotShop({
    collectorUrl: recorder.url,
    dataDir: dir,
    basePort: 0,
    startTimeoutMs: 30_000,
  });
  ({ concurrent, sequential } = await testCheckouts(shop.urls.frontend!));
  // Stopping the services (SIGTERM) makes each one flush its events before it exits.
  await shop.stop();
  await api.analyze();
});

afterAll(async () => {
  await shop?.stop();
  await recorder?.close();
  await collector?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the polyglot shop, traced end to end', () => {
  it('answers both checkouts, the sequential one with both decrements in the database', () => {
    expect(concurrent.status, JSON.stringify(concurrent.body)).toBe(201);
    expect(sequential.status, JSON.stringify(sequential.body)).toBe(201);
    expect(concurrent.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(sequential.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(concurrent.traceId).not.toBe(sequential.traceId);
    // Rust (order) and Python (inventory) each took one tee out of the same row.
    expect(readStock(shop!.stockDb, 'tee')).toBe(9998);
  });

  it('follows a checkout through all four languages under one trace id', async () => {
    const trace = await api.trace(concurrent.traceId!);
    expect(trace.trace_id).toBe(concurrent.traceId);
    expect([...trace.services].sort()).toEqual(ALL);
    const languages = new Set(trace.services.map((name: string) => languageOf.get(name)));
    expect([...languages].sort()).toEqual(['Go', 'Python', 'Rust', 'TypeScript']);

    const spans = flattenSpans(trace.spans as SpanNode[]);
    const servers = spans.filter((s) => s.kind === 'server');
    // One server span per service, but three for the audit log: auth, payment and inventory
    // each record what they did, through the Go, TypeScript and Python clients.
    expect(servers.map((s) => s.service).sort()).toEqual([...ALL, 'audit', 'audit'].sort());
    const auditCallers = servers
      .filter((s) => s.service === 'audit')
      .map((s) => spans.find((parent) => parent.span_id === s.parent_span_id))
      .map((client) => `${client?.service}/${client?.kind}`);
    expect(auditCallers.sort()).toEqual(['auth/client', 'inventory/client', 'payment/client']);
    // One root (the frontend); every other span hangs off a span of the same trace.
    expect(trace.spans).toHaveLength(1);
    expect(trace.spans[0].service).toBe('frontend');
    expect(spans.filter((s) => s.parent_missing)).toEqual([]);
  });

  it("learns each service's SDK language from its batches, as the catalogue says", async () => {
    const { services } = (await api.services()) as {
      services: Array<{ service: string; sdks: Array<{ language: string; name: string }> }>;
    };
    const reported = Object.fromEntries(
      services.map((s) => [s.service, s.sdks.map((sdk) => sdk.language)]),
    );
    expect(reported).toEqual(
      Object.fromEntries(Object.entries(EXPECTED_LANGUAGES).map(([name, lang]) => [name, [lang]])),
    );
  });

  it('builds exactly the dependency graph of the shop, with counts and latencies', async () => {
    const { edges } = await api.dependencies();
    const byName = new Map(
      (edges as Array<{ from: string; to: string }>).map((e) => [`${e.from}->${e.to}`, e]),
    );
    expect([...byName.keys()].sort()).toEqual(
      [
        'api->auth',
        'api->inventory',
        'api->order',
        'auth->audit',
        'frontend->api',
        'inventory->audit',
        'order->payment',
        'payment->audit',
      ].sort(),
    );
    for (const edge of edges) {
      // Three checkouts; none of them failed. Every call is one of the catalogue's.
      expect(edge.calls, `${edge.from}->${edge.to}`).toBe(3);
      expect(edge.errors).toBe(0);
      expect(edge.latencyMs.p50).toBeGreaterThan(0);
      expect(edge.latencyMs.p99).toBeGreaterThanOrEqual(edge.latencyMs.p50);
    }
    // order -> payment includes payment's 250 ms (+- 20 %) of work.
    expect(byName.get('order->payment')).toMatchObject({
      latencyMs: { p50: expect.toSatisfy((ms: number) => ms >= 195) },
    });
  });

  it('walks the critical path down and back up through auth, audit, order and payment, payment the biggest', async () => {
    const { critical_path: path } = await api.criticalPath(concurrent.traceId!);
    expect(path).not.toBeNull();
    // The services the path is in, in time order, a run of sections in one service counted once.
    const walked: string[] = [];
    for (const section of path.sections) {
      if (walked.at(-1) !== section.service) walked.push(section.service);
    }
    const described = JSON.stringify({ sections: path.sections, services: path.services });
    // api waits for auth (which waits for its audit record), then for order (which waits for
    // payment, which waits for its audit record). inventory runs alongside order and finishes
    // first: neither it nor its own audit record is on the path.
    expect(walked, described).toEqual([
      'frontend',
      'api',
      'auth',
      'audit',
      'auth',
      'api',
      'order',
      'payment',
      'audit',
      'payment',
      'order',
      'api',
      'frontend',
    ]);
    // payment works for at least 200 ms (250 ms +- 20 %; 195 allows for timer granularity), all
    // of it on the path, which makes it the biggest contributor by a wide margin.
    const payment = path.services.find((s: { service: string }) => s.service === 'payment');
    expect(payment?.ms, described).toBeGreaterThanOrEqual(195);
    expect(path.biggestContributor, described).toBe('payment');
  });

  it('reports the lost update on the stock of mug between the Rust order and the Python inventory, from SQL alone', async () => {
    const { races } = (await api.traceRaces(concurrent.traceId!)) as { races: RaceGroup[] };
    const lost = races.find((r) => r.scope === 'trace' && r.kind === 'lost_update');
    expect(lost, JSON.stringify(races)).toBeDefined();
    // Found in the statements rusqlite and sqlite3 ran: the services call no tracking function,
    // and the two languages' digests of 'mug' agree.
    expect(lost!.resource).toBe(stockResource('mug'));
    expect(lost!.label).toBe(stockLabel('mug'));
    expect(lost!.trace_ids).toEqual([concurrent.traceId]);
    expect([...lost!.services].sort()).toEqual(['inventory', 'order']);
    expect(lost!.explanation).toMatch(/lost/);
  });

  it('finds no race in the sequential checkout', async () => {
    const { races } = await api.traceRaces(sequential.traceId!);
    expect(races).toEqual([]);
    const trace = await api.trace(sequential.traceId!);
    expect(trace.race_count).toBe(0);
    expect([...trace.services].sort()).toEqual(ALL);
  });

  it("takes every event of every SDK: the spec's schema holds, nothing rejected or dropped", () => {
    const batches = recorder!.batches;
    const languages = new Set(batches.map((b) => b.sdk?.language));
    expect([...languages].sort(), JSON.stringify(batches.map((b) => b.sdk))).toEqual([
      'go',
      'javascript',
      'python',
      'rust',
    ]);
    const refused = batches.filter((b) => b.status !== 200 || b.rejected.length > 0);
    expect(refused).toEqual([]);
    expect(batches.reduce((n, b) => n + b.dropped, 0)).toBe(0);
    const sent = batches.reduce((n, b) => n + b.events, 0);
    expect(batches.reduce((n, b) => n + b.accepted, 0)).toBe(sent);
    expect(sent).toBeGreaterThan(0);
  });
});

describe('an error that travels up through three languages', () => {
  let errorDir: string;
  let own: CollectorProcess | undefined;
  let broken: RunningShop | undefined;
  let failed: Visit;

  beforeAll(async () => {
    errorDir = mkdtempSync(join(tmpdir(), 'raceway-polyglot-error-'));
    own = await startCollectorProcess({
      port: 0,
      storage: `sqlite:${join(errorDir, 'collector.db')}`,
    });
    broken = await startPolyglotShop({
      collectorUrl: own.url,
      dataDir: errorDir,
      basePort: 0,
      startTimeoutMs: 30_000,
    });
    // The audit log goes away: auth (Go) cannot record the token check and refuses it (503),
    // the api (Python) answers 503, and so does the frontend (TypeScript).
    await broken.children.audit?.stop();
    failed = await checkout(broken.urls.frontend!, { sku: 'cap', mode: 'sequential' });
    await broken.stop();
    await collectorApi(own.url).analyze();
  });

  afterAll(async () => {
    await broken?.stop();
    await own?.stop();
    if (errorDir) rmSync(errorDir, { recursive: true, force: true });
  });

  it('starts at the unanswered call to the audit log and reaches the frontend', async () => {
    expect(failed.status, JSON.stringify(failed.body)).toBe(503);
    const { diagnostics } = await collectorApi(own!.url).traceDiagnostics(failed.traceId!);
    const described = JSON.stringify(diagnostics.errors);
    expect(diagnostics.errors, described).toHaveLength(1);
    const [error] = diagnostics.errors;
    // The callee never answered, so the error starts at its address, not at a service.
    expect(error.origin, described).toMatchObject({ kind: 'client', uninstrumented: true });
    expect(error.origin.service).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(error.origin.error?.message, described).toMatch(/refused/);
    expect(error.path).toEqual([error.origin.service, 'auth', 'api', 'frontend']);
    expect(error).toMatchObject({ handledBy: null, reachedRoot: true });
  });
});

/** Each service's SDK language, as the catalogue says it is. */
const EXPECTED_LANGUAGES = Object.fromEntries(
  SERVICES.map((s) => [s.name, SDK_LANGUAGE[s.language]]),
);

/** What the UI shows, per element with a `data-service`: the `data-language` inside it. */
async function languagesShown(elements: Locator): Promise<Record<string, string | undefined>> {
  const pairs = await elements.evaluateAll((all) =>
    all.map((e) => [
      e.getAttribute('data-service') ?? '',
      e.querySelector('[data-language]')?.getAttribute('data-language') ?? undefined,
    ]),
  );
  return Object.fromEntries(pairs);
}

describe('the polyglot checkout in the web UI', () => {
  const screenshots = fileURLToPath(new URL('../../../.raceway/ui-screenshots/', import.meta.url));
  let browser: Browser | undefined;
  let page: Page;
  let problems: ReturnType<typeof watchPage>;

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
    problems = watchPage(page, { origins: new Set([new URL(collector!.url).origin]) });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('draws the trace through the seven services, its critical path and the Rust/Python race', async () => {
    await page.goto(`${collector!.url}/traces/${concurrent.traceId}`);
    const named = page.getByTestId('biggest-contributor');
    await named.waitFor();
    expect(await named.getAttribute('data-service')).toBe('payment');
    // The trace crosses four languages: each service's chip names its SDK's.
    const chips = page.locator('.chips [data-service] [data-language]');
    await expect.poll(() => chips.count()).toBe(SERVICES.length);
    expect(await languagesShown(page.locator('.chips [data-service]'))).toEqual(EXPECTED_LANGUAGES);

    const servicesOf = (selector: string) =>
      page
        .locator(selector)
        .evaluateAll((all) => [...new Set(all.map((e) => e.getAttribute('data-service')))].sort());
    // The waterfall: every service's spans, with the critical path over the five it runs through.
    expect(await servicesOf('[data-testid=waterfall] .span-row')).toEqual(ALL);
    expect(await servicesOf('[data-testid=waterfall] [data-critical=true]')).toEqual(
      ['api', 'audit', 'auth', 'frontend', 'order', 'payment'].sort(),
    );
    // The space-time view: every service's events, and the racing accesses to the stock of mug marked
    // in the Rust order service and the Python inventory service.
    const spaceTime = '[data-testid=space-time] [data-event-id]';
    expect(await servicesOf(spaceTime)).toEqual(ALL);
    expect(await servicesOf(`${spaceTime}[data-racing=true]`)).toEqual(['inventory', 'order']);
    await page.screenshot({ path: join(screenshots, 'polyglot-trace.png'), fullPage: true });
    expect(problems.take()).toEqual([]);
  });

  it("shows each service's SDK language in the services table", async () => {
    await page.goto(`${collector!.url}/insights/services`);
    const table = page.getByTestId('services-table');
    await table.waitFor();
    expect(await languagesShown(table.locator('tbody tr'))).toEqual(EXPECTED_LANGUAGES);
    await page.screenshot({ path: join(screenshots, 'polyglot-services.png'), fullPage: true });
    expect(problems.take()).toEqual([]);
  });
});
