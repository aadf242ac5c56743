import { formatMs, plural } from '../format.js';
import { TROUBLESHOOTING_ANCHORS } from '../troubleshooting-anchors.js';
import { fixLink } from '../troubleshooting-links.js';
import type { Diagnostics } from '../types.js';

// A trace's diagnostics (broken chains, rejected contexts, clock skew, error propagation) as
// the analysis explains them.

const SECTIONS: Array<{ key: 'brokenChains' | 'errors' | 'clockSkew'; title: string }> = [
  { key: 'brokenChains', title: 'Broken chains' },
  { key: 'errors', title: 'Error propagation' },
  { key: 'clockSkew', title: 'Clock skew' },
];

export function countDiagnostics(d: Diagnostics | null): number {
  if (!d) return 0;
  return SECTIONS.reduce((n, s) => n + d[s.key].length, 0);
}

export function DiagnosticsList({ diagnostics }: { diagnostics: Diagnostics | null }) {
  if (diagnostics === null) {
    return <p class="muted">Diagnostics appear once the trace is analysed.</p>;
  }
  const slowest = diagnostics.summary.slowestServices;
  const shown = SECTIONS.filter((s) => diagnostics[s.key].length > 0);
  return (
    <div class="diagnostics" data-testid="diagnostics">
      {shown.length === 0 && (
        <p>No broken chain, rejected context, error or clock skew in this trace.</p>
      )}
      {shown.map((section) => (
        <div key={section.key}>
          <h3>{section.title}</h3>
          <ul>
            {diagnostics[section.key].map((item, i) => (
              <li key={i} data-diagnostic={section.key}>
                {item.explanation}{' '}
                <FixLink href={fixLink(section.key, item, TROUBLESHOOTING_ANCHORS)} />
              </li>
            ))}
          </ul>
        </div>
      ))}
      {slowest.length > 0 && (
        <>
          <h3>Slowest services (own time)</h3>
          <ul>
            {slowest.slice(0, 5).map((s) => (
              <li key={s.service}>
                {s.service}: {formatMs(s.selfMs)} own, {formatMs(s.totalMs)} in{' '}
                {plural(s.spans, 'span')}
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

/** A plain link (the page is not the UI's: the browser loads it, Back returns). */
function FixLink({ href }: { href: string | null }) {
  return href ? (
    <a class="fix-link" href={href}>
      How to fix
    </a>
  ) : null;
}
