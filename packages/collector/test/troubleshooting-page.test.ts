import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiagnosticsSchema } from '../src/api/schemas/analysis.js';
import { anchorsOf, renderTroubleshooting } from '../ui/docs-page.js';
import { fixLink, TROUBLESHOOTING_PAGE } from '../ui/src/troubleshooting-links.js';

// Every "How to fix" link of the UI's diagnostics lands on a section of the troubleshooting
// page, and every kind of broken chain the API reports has a section of its own there.

const page = renderTroubleshooting(
  readFileSync(join(__dirname, '..', '..', '..', 'docs', 'troubleshooting.md'), 'utf8'),
);
const anchors = new Set(anchorsOf(page));
const kinds = (
  DiagnosticsSchema.properties.brokenChains.items.properties.kind as unknown as { enum: string[] }
).enum;

describe('the troubleshooting page the UI links to', () => {
  it.each(kinds)('has a section for broken chains of kind %s, which the UI links to', (kind) => {
    expect(anchors).toContain(kind);
    expect(fixLink('brokenChains', { kind } as never, anchors)).toBe(
      `${TROUBLESHOOTING_PAGE}#${kind}`,
    );
  });

  it("links a kind the page does not document to the broken chains' introduction", () => {
    const link = fixLink('brokenChains', { kind: 'not_documented' } as never, anchors);
    expect(link).toBe(`${TROUBLESHOOTING_PAGE}#broken-trace-chains`);
    expect(anchors).toContain('broken-trace-chains');
  });

  it('has the clock skew section, and no link for error propagation', () => {
    expect(anchors).toContain(fixLink('clockSkew', {} as never, anchors)!.split('#')[1]);
    expect(fixLink('errors', {} as never, anchors)).toBeNull();
  });

  it("keeps GitHub's anchors (the docs' own links) and sends other pages' links to the repository", () => {
    expect(anchors).toContain('broken-trace-chains');
    expect(page).toContain(
      'href="https://github.com/raceway-dev/raceway/blob/main/docs/opentelemetry.md"',
    );
  });
});
