import { formatMs, formatTime } from '../format.js';
import { navigate } from '../router.js';
import type { TraceSummary } from '../types.js';

// Duration over time, one dot per trace (as Jaeger's search page): errors red, races ringed.

const WIDTH = 960;
const HEIGHT = 160;
const PAD = { left: 56, right: 12, top: 10, bottom: 22 };

export function DurationScatter({ traces }: { traces: TraceSummary[] }) {
  if (traces.length === 0) return null;
  let minT = Number.POSITIVE_INFINITY;
  let maxT = Number.NEGATIVE_INFINITY;
  let maxD = 0;
  for (const t of traces) {
    minT = Math.min(minT, t.start_us);
    maxT = Math.max(maxT, t.start_us);
    maxD = Math.max(maxD, t.duration_ms);
  }
  const spanT = Math.max(1, maxT - minT);
  const spanD = maxD > 0 ? maxD * 1.1 : 1;
  const x = (us: number) => PAD.left + ((us - minT) / spanT) * (WIDTH - PAD.left - PAD.right);
  const y = (ms: number) => HEIGHT - PAD.bottom - (ms / spanD) * (HEIGHT - PAD.top - PAD.bottom);
  const ticks = [0, spanD / 2, spanD];
  return (
    <svg
      class="scatter"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label="Trace duration over time"
      data-testid="scatter"
    >
      {ticks.map((ms) => (
        <g key={ms}>
          <line class="grid" x1={PAD.left} x2={WIDTH - PAD.right} y1={y(ms)} y2={y(ms)} />
          <text class="axis" x={PAD.left - 6} y={y(ms) + 4} text-anchor="end">
            {formatMs(ms)}
          </text>
        </g>
      ))}
      <text class="axis" x={PAD.left} y={HEIGHT - 6}>
        {formatTime(minT)}
      </text>
      <text class="axis" x={WIDTH - PAD.right} y={HEIGHT - 6} text-anchor="end">
        {formatTime(maxT)}
      </text>
      {traces.map((t) => (
        // biome-ignore lint/a11y/noStaticElementInteractions: a pointer shortcut; the list below opens the same traces by keyboard
        <circle
          key={t.trace_id}
          class={`dot${t.status === 'error' ? ' error' : ''}${t.race_count > 0 ? ' raced' : ''}`}
          cx={x(t.start_us)}
          cy={y(t.duration_ms)}
          r={t.race_count > 0 ? 5 : 4}
          onClick={() => navigate(`/traces/${t.trace_id}`)}
        >
          <title>
            {`${t.root_method ?? ''} ${t.root_route ?? t.root_service ?? ''}: ${formatMs(t.duration_ms)}${t.race_count > 0 ? `, ${t.race_count} races` : ''}`}
          </title>
        </circle>
      ))}
    </svg>
  );
}
