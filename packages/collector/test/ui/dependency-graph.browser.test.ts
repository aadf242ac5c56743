import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startUiSession, type UiSession } from './browser.js';
import { requestTrace, sendTraces } from './seed.js';

// The dependency graph of 19 services (a frontend calling 18, some of which call a few more)
// stays readable: no two edge labels overlap, and it is not taller than a screen or so.

// biome-ignore lint/suspicious/noExplicitAny: the DOM's types are not this package's
declare const document: any;

let ui: UiSession;
const SERVICES = Array.from({ length: 18 }, (_, i) => `service-${String(i + 1).padStart(2, '0')}`);

beforeAll(async () => {
  ui = await startUiSession({ width: 1400, height: 1000 });
  const now = Date.now() * 1000;
  const traces = [
    requestTrace({ route: '/checkout', startUs: now, calls: SERVICES }),
    // Second-level calls: three services call four others each.
    ...[0, 1, 2].map((i) =>
      requestTrace({
        route: '/work',
        service: SERVICES[i]!,
        startUs: now - (i + 1) * 1000,
        calls: SERVICES.slice(4 + i * 4, 8 + i * 4),
      }),
    ),
  ];
  await sendTraces(ui.collector.url, traces);
  await ui.collector.analyzeNow();
});

afterEach(() => {
  expect(ui.takeProblems()).toEqual([]);
});

afterAll(async () => {
  await ui?.close();
});

describe('the dependency graph of 19 services', () => {
  it('draws every edge label apart from the others, in a graph of sensible height', async () => {
    await ui.open('/insights/dependencies');
    await ui.page.locator('[data-testid=dep-node][data-service="service-18"]').waitFor();
    expect(await ui.page.locator('[data-testid=dep-node]').count()).toBe(19);
    await ui.shot('dependencies-19-services');
    const boxes = await ui.page.$$eval('[data-testid=dependency-graph] .dep-label', (labels) =>
      labels.map((label) => {
        const box = label.getBoundingClientRect();
        return { text: label.textContent, x: box.x, y: box.y, w: box.width, h: box.height };
      }),
    );
    expect(boxes.length).toBeGreaterThanOrEqual(18 + 12);
    const overlaps: string[] = [];
    for (let i = 0; i < boxes.length; i += 1) {
      for (let j = i + 1; j < boxes.length; j += 1) {
        const a = boxes[i]!;
        const b = boxes[j]!;
        const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
        if (!apart) overlaps.push(`${a.text} / ${b.text}`);
      }
    }
    expect(overlaps).toEqual([]);
    const graph = (await ui.page.getByTestId('dependency-graph').boundingBox())!;
    expect(graph.height).toBeLessThan(1300);
    // Names are readable: the graph is not shrunk to fit (text at least 10 px tall).
    const name = (await ui.page.locator('.dep-name').first().boundingBox())!;
    expect(name.height).toBeGreaterThanOrEqual(10);
  });
});
