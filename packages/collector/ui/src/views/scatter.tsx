import { formatMs, formatTime } from '../format.js';
import { navigate } from '../router.js';
import type { TraceSummary } from '../types.js';
import './list.css';

// Duration over time, one dot per trace (as Jaeger's search page), coloured by its root
// service; failed traces are squares, traces with races ringed. The legend says so.

const WIDTH = 960;
const HEIGHT = 170;
const PAD = { left: 56, right: 12, top: 10, bottom: 22 };

/** A step of 1, 2 or 5 times a power of ten giving about `count` intervals up to `max`. */
export function niceStep(max: number, count = 3): number {
  if (!(max > 0)) return 1;
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  return step;
}

/** An axis label: `0`, `0.5 ms`, `20 ms`, `1.5 s` (no more digits than the step needs). */
export function formatTickMs(ms: number): string {
  if (ms === 0) return '0';
  if (ms >= 1000) return `${Number((ms / 1000).toPrecision(3))} s`;
  return `${Number(ms.toPrecision(3))} ms`;
}

const UNKNOWN = '(no root span)';

export function DurationScatter({
  traces,
  colors,
}: {
  traces: TraceSummary[];
  colors: Map<string, string>;
}) {
  if (traces.length === 0) return null;
  let minT = Number.POSITIVE_INFINITY;
  let maxT = Number.NEGATIVE_INFINITY;
  let maxD = 0;
  for (const t of traces) {
    minT = Math.min(minT, t.start_us);
    maxT = Math.max(maxT, t.start_us);
    maxD = Math.max(maxD, t.duration_ms);
  }
  const step = niceStep(maxD);
  const ticks: number[] = [];
  for (let v = 0; v <= maxD + step * 1e-9 || ticks.length < 2; v += step) ticks.push(v);
  const topD = ticks[ticks.length - 1]!;
  const spanT = Math.max(1, maxT - minT);
  const x = (us: number) => PAD.left + ((us - minT) / spanT) * (WIDTH - PAD.left - PAD.right);
  const y = (ms: number) => HEIGHT - PAD.bottom - (ms / topD) * (HEIGHT - PAD.top - PAD.bottom);
  const roots = [...new Set(traces.map((t) => t.root_service ?? UNKNOWN))].sort();
  const anyError = traces.some((t) => t.status === 'error');
  const anyRace = traces.some((t) => t.race_count > 0);
  return (
    <figure class="scatter-figure">
      <svg
        class="scatter"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={`Trace duration over time: ${traces.length} traces, up to ${formatMs(maxD)}`}
        data-testid="scatter"
      >
        {ticks.map((ms) => (
          <g key={ms}>
            <line class="grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(ms)} y2={y(ms)} />
            <text class="axis" x={PAD.left - 6} y={y(ms) + 4} text-anchor="end">
              {formatTickMs(ms)}
            </text>
          </g>
        ))}
        <text class="axis" x={PAD.left} y={HEIGHT - 6}>
          {formatTime(minT)}
        </text>
        <text class="axis" x={WIDTH - PAD.right} y={HEIGHT - 6} text-anchor="end">
          {formatTime(maxT)}
        </text>
        {traces.map((t) => {
          const color = colors.get(t.root_service ?? UNKNOWN) ?? 'var(--accent)';
          const cx = x(t.start_us);
          const cy = y(t.duration_ms);
          const classes = `dot${t.status === 'error' ? ' error' : ''}${t.race_count > 0 ? ' raced' : ''}`;
          const title = (
            <title>
              {`${t.root_method ?? ''} ${t.root_route ?? t.root_service ?? ''}: ${formatMs(t.duration_ms)}${t.status === 'error' ? ', failed' : ''}${t.race_count > 0 ? `, ${t.race_count} races` : ''}`}
            </title>
          );
          const open = () => navigate(`/traces/${t.trace_id}`);
          return t.status === 'error' ? (
            // biome-ignore lint/a11y/noStaticElementInteractions: a pointer shortcut; the list below opens the same traces by keyboard
            <rect
              key={t.trace_id}
              class={classes}
              x={cx - 4}
              y={cy - 4}
              width={8}
              height={8}
              style={{ fill: color }}
              onClick={open}
            >
              {title}
            </rect>
          ) : (
            // biome-ignore lint/a11y/noStaticElementInteractions: a pointer shortcut; the list below opens the same traces by keyboard
            <circle
              key={t.trace_id}
              class={classes}
              cx={cx}
              cy={cy}
              r={t.race_count > 0 ? 5 : 4}
              style={{ fill: color }}
              onClick={open}
            >
              {title}
            </circle>
          );
        })}
      </svg>
      <figcaption class="scatter-legend" data-testid="scatter-legend">
        <span class="muted">Root service:</span>
        {roots.map((service) => (
          <span key={service} class="legend-item">
            <svg class="swatch" viewBox="0 0 10 10" aria-hidden="true">
              <circle
                cx="5"
                cy="5"
                r="4"
                style={{ fill: colors.get(service) ?? 'var(--accent)' }}
              />
            </svg>
            {service}
          </span>
        ))}
        {anyError && (
          <span class="legend-item">
            <svg class="swatch" viewBox="0 0 10 10" aria-hidden="true">
              <rect x="1" y="1" width="8" height="8" class="swatch-shape" />
            </svg>
            failed
          </span>
        )}
        {anyRace && (
          <span class="legend-item">
            <svg class="swatch" viewBox="0 0 12 12" aria-hidden="true">
              <circle cx="6" cy="6" r="4" class="swatch-shape raced" />
            </svg>
            has races
          </span>
        )}
      </figcaption>
    </figure>
  );
}
