import type { Diagnostics } from './types.js';

// Where a diagnostic's fix is explained: the section of docs/troubleshooting.md, served by the
// collector as a page built with the UI (ui/docs-page.ts), whose headings have the
// diagnostic kinds as anchors.

export const TROUBLESHOOTING_PAGE = '/docs/troubleshooting.html';

type Section = 'brokenChains' | 'errors' | 'clockSkew';

/**
 * The "How to fix" link of a diagnostic: its kind's section when the page has one (`anchors`:
 * the page's, see troubleshooting-anchors.ts), else its family's; null for findings the page
 * does not cover (error propagation: the error is the app's).
 */
export function fixLink(
  section: Section,
  item: Diagnostics[Section][number],
  anchors: ReadonlySet<string>,
): string | null {
  if (section === 'clockSkew') return `${TROUBLESHOOTING_PAGE}#clock-skew`;
  if (section !== 'brokenChains') return null;
  const { kind } = item as Diagnostics['brokenChains'][number];
  return `${TROUBLESHOOTING_PAGE}#${anchors.has(kind) ? kind : 'broken-trace-chains'}`;
}
